//! A zlib stream (RFC 1950/1951) for short inputs, byte for byte what the C
//! zlib library writes at its default settings (level 6, 32 KiB window,
//! memory level 8, default strategy) in one `deflate(Z_FINISH)` call.
//!
//! Agora refuses a token whose compressed content differs from its own
//! builders' by a byte, and those builders use zlib. The C library clears a
//! 64 KiB hash table every time a stream starts, which is most of a
//! token's cost; this encoder makes the same decisions (hash chains over a
//! 15-bit hash of three bytes, lazy matching with level 6's limits, one
//! block whose kind and Huffman codes are chosen the way zlib chooses them)
//! while touching only the table entries the input uses.
//!
//! Only inputs shorter than [`MAX_INPUT`] are encoded here (the whole input
//! is then in the window at once and is one block); [`encode`] returns
//! `None` for longer ones and the caller uses the C library. The tests
//! compare the two on many inputs.

/// Inputs at least this long are left to the C library.
pub const MAX_INPUT: usize = 16_000;

const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
const HASH_BITS: u32 = 15;
const HASH_SIZE: usize = 1 << HASH_BITS;
const HASH_MASK: u32 = (HASH_SIZE as u32) - 1;
const HASH_SHIFT: u32 = HASH_BITS.div_ceil(MIN_MATCH as u32);
// Level 6: good, lazy, nice, chain.
const GOOD_MATCH: usize = 8;
const MAX_LAZY: usize = 16;
const NICE_MATCH: usize = 128;
const MAX_CHAIN: usize = 128;
const TOO_FAR: usize = 4096;

const LITERALS: usize = 256;
const END_BLOCK: usize = 256;
const L_CODES: usize = LITERALS + 1 + 29;
const D_CODES: usize = 30;
const BL_CODES: usize = 19;
const MAX_BITS: usize = 15;
const MAX_BL_BITS: usize = 7;
const REP_3_6: usize = 16;
const REPZ_3_10: usize = 17;
const REPZ_11_138: usize = 18;

const EXTRA_LBITS: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const EXTRA_DBITS: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
const EXTRA_BLBITS: [u8; BL_CODES] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];
const BL_ORDER: [usize; BL_CODES] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Length code (0..29) and its base length - 3, for a match length - 3.
fn length_code(lc: usize) -> (usize, usize) {
    // Base (length - 3) of each code, from RFC 1951's table.
    const BASE: [usize; 29] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112,
        128, 160, 192, 224, 255,
    ];
    if lc == 255 {
        return (28, 255);
    }
    let mut code = 0;
    while code + 1 < 28 && BASE[code + 1] <= lc {
        code += 1;
    }
    (code, BASE[code])
}

/// Distance code (0..30) and its base, for a distance - 1.
fn dist_code(d: usize) -> (usize, usize) {
    const BASE: [usize; 30] = [
        0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536,
        2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576,
    ];
    let mut code = 0;
    while code + 1 < 30 && BASE[code + 1] <= d {
        code += 1;
    }
    (code, BASE[code])
}

#[derive(Clone, Copy)]
enum Sym {
    Lit(u8),
    /// (length - 3, distance - 1)
    Match(u16, u16),
}

/// Hash heads of the positions seen so far; entries the input touched are
/// remembered so the table is cleared in time proportional to the input.
struct Chains {
    head: Vec<u16>,
    touched: Vec<u16>,
    prev: Vec<u16>,
}

impl Chains {
    fn new() -> Chains {
        Chains {
            head: vec![0; HASH_SIZE],
            touched: Vec::new(),
            prev: Vec::new(),
        }
    }

    fn clear(&mut self) {
        for &h in &self.touched {
            if let Some(e) = self.head.get_mut(usize::from(h)) {
                *e = 0;
            }
        }
        self.touched.clear();
        self.prev.clear();
    }
}

thread_local! {
    static CHAINS: std::cell::RefCell<Chains> = std::cell::RefCell::new(Chains::new());
}

fn update_hash(h: u32, c: u8) -> u32 {
    ((h << HASH_SHIFT) ^ u32::from(c)) & HASH_MASK
}

/// The zlib stream of `data`, or `None` when `data` is too long for this
/// encoder.
pub fn encode(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() >= MAX_INPUT {
        return None;
    }
    let syms = CHAINS.with(|c| {
        let mut chains = c.borrow_mut();
        chains.clear();
        let s = lz77(data, &mut chains);
        chains.clear();
        s
    });
    let mut out = BitWriter::new(data.len() / 2 + 16);
    out.bytes.extend_from_slice(&[0x78, 0x9c]);
    block(data, &syms, &mut out);
    out.align();
    out.bytes.extend_from_slice(&adler32(data).to_be_bytes());
    Some(out.bytes)
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// zlib's lazy matching (`deflate_slow`) over the whole input.
fn lz77(data: &[u8], ch: &mut Chains) -> Vec<Sym> {
    let n = data.len();
    // Past the input, zlib's window holds zeros (it clears what follows the
    // data), and match comparisons may run into them.
    let w = data;
    ch.prev.resize(n + 1, 0);
    let at = |i: usize| w.get(i).copied().unwrap_or(0);
    let mut syms = Vec::with_capacity(n + 1);
    let mut ins_h: u32 = 0;
    if n >= MIN_MATCH {
        ins_h = update_hash(u32::from(at(0)), at(1));
    }
    let mut strstart = 0usize;
    let mut lookahead = n;
    let mut match_length = MIN_MATCH - 1;
    let mut match_start = 0usize;
    let mut match_available = false;
    // Inserts position `s` into the chains; returns the previous head.
    let insert = |s: usize, ins_h: &mut u32, ch: &mut Chains| -> usize {
        *ins_h = update_hash(*ins_h, at(s + MIN_MATCH - 1));
        let h = *ins_h as usize;
        let head = ch.head.get(h).copied().unwrap_or(0);
        if let Some(p) = ch.prev.get_mut(s) {
            *p = head;
        }
        if head == 0 {
            ch.touched.push(*ins_h as u16);
        }
        if let Some(e) = ch.head.get_mut(h) {
            *e = s as u16;
        }
        usize::from(head)
    };
    while lookahead > 0 {
        let mut hash_head = 0usize;
        if lookahead >= MIN_MATCH {
            hash_head = insert(strstart, &mut ins_h, ch);
        }
        let prev_length = match_length;
        let prev_match = match_start;
        match_length = MIN_MATCH - 1;
        if hash_head != 0 && prev_length < MAX_LAZY {
            let (len, start) = longest_match(
                w,
                &ch.prev,
                strstart,
                hash_head,
                prev_length,
                lookahead,
                match_start,
            );
            match_length = len;
            match_start = start;
            if match_length == MIN_MATCH && strstart - match_start > TOO_FAR {
                match_length = MIN_MATCH - 1;
            }
        }
        if prev_length >= MIN_MATCH && match_length <= prev_length {
            let max_insert = strstart + lookahead - MIN_MATCH;
            syms.push(Sym::Match(
                (prev_length - MIN_MATCH) as u16,
                (strstart - 2 - prev_match) as u16,
            ));
            lookahead -= prev_length - 1;
            let mut left = prev_length - 2;
            while left > 0 {
                strstart += 1;
                if strstart <= max_insert {
                    insert(strstart, &mut ins_h, ch);
                }
                left -= 1;
            }
            match_available = false;
            match_length = MIN_MATCH - 1;
            strstart += 1;
        } else if match_available {
            syms.push(Sym::Lit(at(strstart - 1)));
            strstart += 1;
            lookahead -= 1;
        } else {
            match_available = true;
            strstart += 1;
            lookahead -= 1;
        }
    }
    if match_available {
        syms.push(Sym::Lit(at(strstart - 1)));
    }
    syms
}

/// zlib's `longest_match`: the first longest match along the chain, and
/// where it starts (`start` unchanged when none beats `prev_length`).
fn longest_match(
    w: &[u8],
    prev: &[u16],
    strstart: usize,
    mut cur: usize,
    prev_length: usize,
    lookahead: usize,
    mut start: usize,
) -> (usize, usize) {
    let at = |i: usize| w.get(i).copied().unwrap_or(0);
    let mut chain = MAX_CHAIN;
    let mut best = prev_length;
    let nice = NICE_MATCH.min(lookahead);
    if prev_length >= GOOD_MATCH {
        chain >>= 2;
    }
    loop {
        if at(cur + best) == at(strstart + best)
            && at(cur + best - 1) == at(strstart + best - 1)
            && at(cur) == at(strstart)
            && at(cur + 1) == at(strstart + 1)
        {
            // The third bytes are equal when the hashes are.
            let mut len = 3;
            while len < MAX_MATCH && at(cur + len) == at(strstart + len) {
                len += 1;
            }
            if len > best {
                start = cur;
                best = len;
                if len >= nice {
                    break;
                }
            }
        }
        cur = usize::from(prev.get(cur).copied().unwrap_or(0));
        chain -= 1;
        if cur == 0 || chain == 0 {
            break;
        }
    }
    (best.min(lookahead), start)
}

/// Bits out, least significant first.
struct BitWriter {
    bytes: Vec<u8>,
    buf: u64,
    nbits: u32,
}

impl BitWriter {
    fn new(cap: usize) -> BitWriter {
        BitWriter {
            bytes: Vec::with_capacity(cap),
            buf: 0,
            nbits: 0,
        }
    }

    fn bits(&mut self, value: u32, len: u32) {
        self.buf |= u64::from(value) << self.nbits;
        self.nbits += len;
        while self.nbits >= 8 {
            self.bytes.push(self.buf as u8);
            self.buf >>= 8;
            self.nbits -= 8;
        }
    }

    fn align(&mut self) {
        if self.nbits > 0 {
            self.bytes.push(self.buf as u8);
        }
        self.buf = 0;
        self.nbits = 0;
    }
}

/// One Huffman tree as zlib builds it (sized for the largest, the
/// literal/length tree, plus the guard entry `scan_tree` writes).
/// `S` is the number of codes plus one.
struct Tree<const S: usize> {
    freq: [u32; S],
    len: [u16; S],
    code: [u16; S],
    max_code: isize,
}

impl<const S: usize> Tree<S> {
    fn new() -> Tree<S> {
        Tree {
            freq: [0; S],
            len: [0; S],
            code: [0; S],
            max_code: -1,
        }
    }
}

struct Lens {
    opt_len: u64,
    static_len: u64,
}

fn smaller(freq: &[u32], depth: &[u8], n: usize, m: usize) -> bool {
    freq[n] < freq[m] || (freq[n] == freq[m] && depth[n] <= depth[m])
}

fn pqdownheap(heap: &mut [u16], heap_len: usize, freq: &[u32], depth: &[u8], mut k: usize) {
    let v = heap[k];
    let mut j = k << 1;
    while j <= heap_len {
        if j < heap_len && smaller(freq, depth, usize::from(heap[j + 1]), usize::from(heap[j])) {
            j += 1;
        }
        if smaller(freq, depth, usize::from(v), usize::from(heap[j])) {
            break;
        }
        heap[k] = heap[j];
        k = j;
        j <<= 1;
    }
    heap[k] = v;
}

/// zlib's `build_tree` (with `gen_bitlen` and `gen_codes`): code lengths
/// limited to `max_length`, `lens` updated with the block's cost.
/// `N` is the number of nodes, twice the codes plus one.
fn build_tree<const S: usize, const N: usize>(
    t: &mut Tree<S>,
    elems: usize,
    stree_len: Option<&dyn Fn(usize) -> u64>,
    extra: &[u8],
    base: usize,
    max_length: usize,
    lens: &mut Lens,
) {
    let mut freq = [0u32; N];
    let mut depth = [0u8; N];
    let mut dad = [0u16; N];
    let mut len = [0u16; N];
    freq[..elems].copy_from_slice(&t.freq[..elems]);
    // Heap positions as zlib numbers them (from 1; the sorted part from
    // the top), over this tree's nodes only.
    let mut heap = [0u16; N];
    let mut heap_len = 0usize;
    let mut heap_max = N;
    let mut max_code: isize = -1;
    for (n, &f) in freq.iter().enumerate().take(elems) {
        if f != 0 {
            heap_len += 1;
            heap[heap_len] = n as u16;
            max_code = n as isize;
        }
    }
    while heap_len < 2 {
        let node = if max_code < 2 {
            max_code += 1;
            max_code as usize
        } else {
            0
        };
        heap_len += 1;
        heap[heap_len] = node as u16;
        freq[node] = 1;
        t.freq[node] = 1;
        depth[node] = 0;
        lens.opt_len = lens.opt_len.wrapping_sub(1);
        if let Some(s) = stree_len {
            lens.static_len = lens.static_len.wrapping_sub(s(node));
        }
    }
    t.max_code = max_code;
    for n in (1..=heap_len / 2).rev() {
        pqdownheap(&mut heap, heap_len, &freq, &depth, n);
    }
    let mut node = elems;
    loop {
        let n = usize::from(heap[1]);
        heap[1] = heap[heap_len];
        heap_len -= 1;
        pqdownheap(&mut heap, heap_len, &freq, &depth, 1);
        let m = usize::from(heap[1]);
        heap_max -= 1;
        heap[heap_max] = n as u16;
        heap_max -= 1;
        heap[heap_max] = m as u16;
        freq[node] = freq[n] + freq[m];
        depth[node] = depth[n].max(depth[m]) + 1;
        dad[n] = node as u16;
        dad[m] = node as u16;
        heap[1] = node as u16;
        node += 1;
        pqdownheap(&mut heap, heap_len, &freq, &depth, 1);
        if heap_len < 2 {
            break;
        }
    }
    heap_max -= 1;
    heap[heap_max] = heap[1];
    // gen_bitlen
    let mut bl_count = [0u16; MAX_BITS + 1];
    len[usize::from(heap[heap_max])] = 0;
    let mut overflow = 0i32;
    for &n in &heap[heap_max + 1..N] {
        let n = usize::from(n);
        let mut bits = usize::from(len[usize::from(dad[n])]) + 1;
        if bits > max_length {
            bits = max_length;
            overflow += 1;
        }
        len[n] = bits as u16;
        if n as isize > max_code {
            continue;
        }
        bl_count[bits] += 1;
        let xbits = if n >= base {
            u64::from(extra[n - base])
        } else {
            0
        };
        let f = u64::from(freq[n]);
        lens.opt_len = lens.opt_len.wrapping_add(f * (bits as u64 + xbits));
        if let Some(s) = stree_len {
            lens.static_len = lens.static_len.wrapping_add(f * (s(n) + xbits));
        }
    }
    if overflow > 0 {
        loop {
            let mut bits = max_length - 1;
            while bl_count[bits] == 0 {
                bits -= 1;
            }
            bl_count[bits] -= 1;
            bl_count[bits + 1] += 2;
            bl_count[max_length] -= 1;
            overflow -= 2;
            if overflow <= 0 {
                break;
            }
        }
        let mut h = N;
        for bits in (1..=max_length).rev() {
            let mut n = bl_count[bits];
            while n != 0 {
                h -= 1;
                let m = usize::from(heap[h]);
                if m as isize > max_code {
                    continue;
                }
                if usize::from(len[m]) != bits {
                    lens.opt_len = lens.opt_len.wrapping_add(
                        (bits as u64)
                            .wrapping_sub(u64::from(len[m]))
                            .wrapping_mul(u64::from(freq[m])),
                    );
                    len[m] = bits as u16;
                }
                n -= 1;
            }
        }
    }
    t.len[..elems].copy_from_slice(&len[..elems]);
    // gen_codes
    let mut next = [0u16; MAX_BITS + 1];
    let mut code = 0u16;
    for bits in 1..=MAX_BITS {
        code = (code + bl_count[bits - 1]) << 1;
        next[bits] = code;
    }
    if max_code >= 0 {
        for n in 0..=(max_code as usize) {
            let l = usize::from(t.len[n]);
            if l == 0 {
                continue;
            }
            t.code[n] = reverse(next[l], l);
            next[l] += 1;
        }
    }
}

fn reverse(code: u16, len: usize) -> u16 {
    let mut c = code;
    let mut r = 0u16;
    for _ in 0..len {
        r = (r << 1) | (c & 1);
        c >>= 1;
    }
    r
}

fn static_l_len(n: usize) -> u64 {
    match n {
        0..=143 => 8,
        144..=255 => 9,
        256..=279 => 7,
        _ => 8,
    }
}

fn static_l_code(n: usize) -> (u16, usize) {
    let (base, start, len) = match n {
        0..=143 => (0x30u16, 0usize, 8usize),
        144..=255 => (0x190, 144, 9),
        256..=279 => (0x00, 256, 7),
        _ => (0xc0, 280, 8),
    };
    (reverse(base + (n - start) as u16, len), len)
}

/// zlib's `scan_tree`: the code-length codes' frequencies.
fn scan_tree(lens_of: &mut [u16], max_code: isize, bl: &mut Tree<20>) {
    let mut prevlen: i32 = -1;
    let mut nextlen = i32::from(lens_of[0]);
    let mut count = 0u32;
    let (mut max_count, mut min_count) = if nextlen == 0 { (138, 3) } else { (7, 4) };
    let mc = max_code.max(-1);
    if let Some(g) = lens_of.get_mut((mc + 1) as usize) {
        *g = 0xffff;
    }
    for n in 0..=(mc as usize) {
        let curlen = nextlen;
        nextlen = i32::from(lens_of[n + 1]);
        count += 1;
        if count < max_count && curlen == nextlen {
            continue;
        } else if count < min_count {
            bl.freq[curlen as usize] += count;
        } else if curlen != 0 {
            if curlen != prevlen {
                bl.freq[curlen as usize] += 1;
            }
            bl.freq[REP_3_6] += 1;
        } else if count <= 10 {
            bl.freq[REPZ_3_10] += 1;
        } else {
            bl.freq[REPZ_11_138] += 1;
        }
        count = 0;
        prevlen = curlen;
        (max_count, min_count) = if nextlen == 0 {
            (138, 3)
        } else if curlen == nextlen {
            (6, 3)
        } else {
            (7, 4)
        };
    }
}

/// zlib's `send_tree`: a tree's code lengths in the code-length code.
fn send_tree(lens_of: &[u16], max_code: isize, bl: &Tree<20>, out: &mut BitWriter) {
    let send =
        |c: usize, out: &mut BitWriter| out.bits(u32::from(bl.code[c]), u32::from(bl.len[c]));
    let mut prevlen: i32 = -1;
    let mut nextlen = i32::from(lens_of[0]);
    let mut count = 0u32;
    let (mut max_count, mut min_count) = if nextlen == 0 { (138, 3) } else { (7, 4) };
    for n in 0..=(max_code.max(-1) as usize) {
        let curlen = nextlen;
        nextlen = i32::from(lens_of[n + 1]);
        count += 1;
        if count < max_count && curlen == nextlen {
            continue;
        } else if count < min_count {
            while count > 0 {
                send(curlen as usize, out);
                count -= 1;
            }
        } else if curlen != 0 {
            if curlen != prevlen {
                send(curlen as usize, out);
                count -= 1;
            }
            send(REP_3_6, out);
            out.bits(count - 3, 2);
        } else if count <= 10 {
            send(REPZ_3_10, out);
            out.bits(count - 3, 3);
        } else {
            send(REPZ_11_138, out);
            out.bits(count - 11, 7);
        }
        count = 0;
        prevlen = curlen;
        (max_count, min_count) = if nextlen == 0 {
            (138, 3)
        } else if curlen == nextlen {
            (6, 3)
        } else {
            (7, 4)
        };
    }
}

/// The one final block: stored, fixed or dynamic codes, as zlib's
/// `_tr_flush_block` decides.
fn block(data: &[u8], syms: &[Sym], out: &mut BitWriter) {
    let mut lt = Tree::<{ L_CODES + 1 }>::new();
    let mut dt = Tree::<{ D_CODES + 1 }>::new();
    for s in syms {
        match *s {
            Sym::Lit(c) => lt.freq[usize::from(c)] += 1,
            Sym::Match(lc, d) => {
                let (code, _) = length_code(usize::from(lc));
                lt.freq[code + LITERALS + 1] += 1;
                let (dc, _) = dist_code(usize::from(d));
                dt.freq[dc] += 1;
            }
        }
    }
    lt.freq[END_BLOCK] = 1;
    let mut lens = Lens {
        opt_len: 0,
        static_len: 0,
    };
    let sl: &dyn Fn(usize) -> u64 = &static_l_len;
    let sd: &dyn Fn(usize) -> u64 = &|_| 5;
    build_tree::<{ L_CODES + 1 }, { 2 * L_CODES + 1 }>(
        &mut lt,
        L_CODES,
        Some(sl),
        &EXTRA_LBITS,
        LITERALS + 1,
        MAX_BITS,
        &mut lens,
    );
    build_tree::<{ D_CODES + 1 }, { 2 * D_CODES + 1 }>(
        &mut dt,
        D_CODES,
        Some(sd),
        &EXTRA_DBITS,
        0,
        MAX_BITS,
        &mut lens,
    );
    // build_bl_tree
    let mut bl = Tree::<{ BL_CODES + 1 }>::new();
    let lmax = lt.max_code;
    let dmax = dt.max_code;
    scan_tree(&mut lt.len, lmax, &mut bl);
    scan_tree(&mut dt.len, dmax, &mut bl);
    build_tree::<{ BL_CODES + 1 }, { 2 * BL_CODES + 1 }>(
        &mut bl,
        BL_CODES,
        None,
        &EXTRA_BLBITS,
        0,
        MAX_BL_BITS,
        &mut lens,
    );
    let mut max_blindex = BL_CODES - 1;
    while max_blindex >= 3 && bl.len[BL_ORDER[max_blindex]] == 0 {
        max_blindex -= 1;
    }
    lens.opt_len = lens
        .opt_len
        .wrapping_add(3 * (max_blindex as u64 + 1) + 5 + 5 + 4);
    let mut opt_lenb = lens.opt_len.wrapping_add(3 + 7) >> 3;
    let static_lenb = lens.static_len.wrapping_add(3 + 7) >> 3;
    if static_lenb <= opt_lenb {
        opt_lenb = static_lenb;
    }
    let stored_len = data.len() as u64;
    if stored_len + 4 <= opt_lenb {
        out.bits(1, 3); // stored, final
        out.align();
        let n = data.len() as u16;
        out.bytes.extend_from_slice(&n.to_le_bytes());
        out.bytes.extend_from_slice(&(!n).to_le_bytes());
        out.bytes.extend_from_slice(data);
        return;
    }
    if static_lenb == opt_lenb {
        out.bits((1 << 1) + 1, 3);
        compress(syms, out, &|n| static_l_code(n), &|d| {
            (reverse(d as u16, 5), 5)
        });
    } else {
        out.bits((2 << 1) + 1, 3);
        let lcodes = (lmax + 1) as u32;
        let dcodes = (dmax + 1) as u32;
        let blcodes = max_blindex as u32 + 1;
        out.bits(lcodes - 257, 5);
        out.bits(dcodes - 1, 5);
        out.bits(blcodes - 4, 4);
        for &r in BL_ORDER.iter().take(max_blindex + 1) {
            out.bits(u32::from(bl.len[r]), 3);
        }
        send_tree(&lt.len, lmax, &bl, out);
        send_tree(&dt.len, dmax, &bl, out);
        compress(syms, out, &|n| (lt.code[n], usize::from(lt.len[n])), &|d| {
            (dt.code[d], usize::from(dt.len[d]))
        });
    }
}

/// zlib's `compress_block`.
fn compress(
    syms: &[Sym],
    out: &mut BitWriter,
    lcode: &dyn Fn(usize) -> (u16, usize),
    dcode: &dyn Fn(usize) -> (u16, usize),
) {
    let send = |(c, l): (u16, usize), out: &mut BitWriter| out.bits(u32::from(c), l as u32);
    for s in syms {
        match *s {
            Sym::Lit(c) => send(lcode(usize::from(c)), out),
            Sym::Match(lc, d) => {
                let lc = usize::from(lc);
                let (code, base) = length_code(lc);
                send(lcode(code + LITERALS + 1), out);
                let extra = u32::from(EXTRA_LBITS[code]);
                if extra > 0 {
                    out.bits((lc - base) as u32, extra);
                }
                let d = usize::from(d);
                let (dc, dbase) = dist_code(d);
                send(dcode(dc), out);
                let extra = u32::from(EXTRA_DBITS[dc]);
                if extra > 0 {
                    out.bits((d - dbase) as u32, extra);
                }
            }
        }
    }
    send(lcode(END_BLOCK), out);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::encode;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A small deterministic generator (xorshift) for varied inputs.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn sample(r: &mut Rng) -> Vec<u8> {
        let len = r.below(1200);
        let alphabet = [2usize, 4, 16, 64, 256][r.below(5)];
        let mut v = Vec::with_capacity(len);
        while v.len() < len {
            match r.below(4) {
                // repeat an earlier stretch (matches of every length and distance)
                0 if v.len() > 4 => {
                    let from = r.below(v.len());
                    let n = 3 + r.below(300);
                    for i in 0..n {
                        let b = v[from + i % (v.len() - from)];
                        v.push(b);
                    }
                }
                _ => v.push((r.below(alphabet) as u8).wrapping_add(if alphabet <= 64 {
                    b'0'
                } else {
                    0
                })),
            }
        }
        v.truncate(len);
        v
    }

    #[test]
    fn the_same_bytes_as_the_c_library() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        for i in 0..20_000 {
            let data = sample(&mut r);
            assert_eq!(encode(&data).unwrap(), zlib(&data), "input {i}: {data:?}");
        }
        for data in [
            &b""[..],
            b"a",
            b"ab",
            b"abc",
            &[0u8; 5000][..],
            &[7u8; 300][..],
        ] {
            assert_eq!(encode(data).unwrap(), zlib(data));
        }
    }

    #[test]
    fn long_inputs_and_skewed_codes_too() {
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..150 {
            let len = r.below(super::MAX_INPUT);
            let alphabet = [3usize, 20, 256][r.below(3)];
            let data: Vec<u8> = (0..len).map(|_| r.below(alphabet) as u8).collect();
            assert_eq!(encode(&data).unwrap(), zlib(&data));
        }
        // Fibonacci frequencies: Huffman lengths beyond 15 (and 7 for the
        // code-length code) that zlib shortens its own way.
        let mut data = Vec::new();
        let (mut a, mut b) = (1usize, 1usize);
        for sym in 0..19u8 {
            for _ in 0..a {
                // spread out so that few repeats become matches
                data.push(sym.wrapping_mul(13));
                data.push(r.below(256) as u8);
            }
            (a, b) = (b, a + b);
            if data.len() > super::MAX_INPUT - 20 {
                break;
            }
        }
        data.truncate(super::MAX_INPUT - 1);
        assert_eq!(encode(&data).unwrap(), zlib(&data));
        // Token-like: a signature, hex text, little-endian numbers, names.
        for i in 0..2000u32 {
            let mut t: Vec<u8> = (0..32).map(|_| r.below(256) as u8).collect();
            t.extend_from_slice(b"970ca35de60c44645bbae8a215061b33");
            t.extend_from_slice(&i.to_le_bytes());
            t.extend_from_slice(&(i * 7919).to_le_bytes());
            t.extend_from_slice(format!("jf-{:032x}", r.next()).as_bytes());
            t.extend_from_slice(&[1, 0, 4, 0, 1, 0, 16, 14, 0, 0, 2, 0]);
            assert_eq!(encode(&t).unwrap(), zlib(&t));
        }
    }

    #[test]
    fn long_inputs_are_left_to_the_c_library() {
        assert!(encode(&vec![1u8; super::MAX_INPUT]).is_none());
    }
}
