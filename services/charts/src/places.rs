//! The bundled gazetteer: GeoNames cities with a population of 15,000 or more
//! (CC BY 4.0, see the README), loaded once at start into memory, with a
//! sorted prefix index over diacritic- and case-folded names and alternate
//! names, and a nearest-place lookup for coordinates.

use serde::Serialize;
use std::collections::HashMap;
use std::io::Read;
use unicode_normalization::UnicodeNormalization;

/// `data/places.tsv.gz`, written by `data/gen_places.py`.
static PLACES_TSV_GZ: &[u8] = include_bytes!("../data/places.tsv.gz");

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Place {
    /// GeoNames id.
    pub id: i64,
    pub name: String,
    pub ascii_name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// GeoNames admin1 code (state / province).
    pub admin1: String,
    pub lat: f64,
    pub lon: f64,
    pub population: u64,
    /// IANA zone.
    pub tz: String,
}

/// A search result: the place and the name that matched the query.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PlaceMatch {
    #[serde(flatten)]
    pub place: Place,
    pub matched_name: String,
}

struct Entry {
    key: Box<str>,
    place: u32,
    /// 0 = name, 1 = ascii name, 2.. = alternate names.
    name: u16,
}

pub struct Gazetteer {
    places: Vec<Place>,
    alternates: Vec<Vec<Box<str>>>,
    by_id: HashMap<i64, u32>,
    index: Vec<Entry>,
}

/// Lowercases and strips diacritics (NFKD, combining marks dropped, a few
/// letters that do not decompose spelled out), collapsing whitespace.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        match c {
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' | 'ð' | 'Ð' => out.push('d'),
            'ł' | 'Ł' => out.push('l'),
            'ı' => out.push('i'),
            'þ' | 'Þ' => out.push_str("th"),
            'ʻ' | 'ʼ' | '’' | '‘' | '`' => out.push('\''),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

impl Gazetteer {
    /// Loads the bundled data.
    pub fn load_bundled() -> anyhow::Result<Gazetteer> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(PLACES_TSV_GZ).read_to_string(&mut text)?;
        Self::parse(&text)
    }

    /// Parses the TSV written by `gen_places.py`.
    pub fn parse(text: &str) -> anyhow::Result<Gazetteer> {
        let mut places = Vec::new();
        let mut alternates = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 10 {
                anyhow::bail!("places data line {}: expected 10 columns", n + 1);
            }
            let bad = |what: &str| anyhow::anyhow!("places data line {}: bad {what}", n + 1);
            places.push(Place {
                id: f[0].parse().map_err(|_| bad("id"))?,
                name: f[1].to_owned(),
                ascii_name: f[2].to_owned(),
                country: f[4].to_owned(),
                admin1: f[5].to_owned(),
                lat: f[6].parse().map_err(|_| bad("lat"))?,
                lon: f[7].parse().map_err(|_| bad("lon"))?,
                population: f[8].parse().map_err(|_| bad("population"))?,
                tz: f[9].to_owned(),
            });
            alternates.push(
                f[3].split('|')
                    .filter(|s| !s.is_empty())
                    .map(Box::from)
                    .collect::<Vec<Box<str>>>(),
            );
        }
        let mut by_id = HashMap::with_capacity(places.len());
        let mut index = Vec::with_capacity(places.len() * 8);
        for (i, p) in places.iter().enumerate() {
            let i = u32::try_from(i)?;
            by_id.insert(p.id, i);
            let names = [p.name.as_str(), p.ascii_name.as_str()]
                .into_iter()
                .chain(alternates[i as usize].iter().map(|s| &**s));
            let mut seen: Vec<String> = Vec::new();
            for (k, name) in names.enumerate() {
                let key = fold(name);
                if key.is_empty() || seen.contains(&key) {
                    continue;
                }
                seen.push(key.clone());
                index.push(Entry {
                    key: key.into_boxed_str(),
                    place: i,
                    name: u16::try_from(k).unwrap_or(u16::MAX),
                });
            }
        }
        index.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(Gazetteer {
            places,
            alternates,
            by_id,
            index,
        })
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    pub fn get(&self, id: i64) -> Option<&Place> {
        self.by_id.get(&id).map(|&i| &self.places[i as usize])
    }

    fn name_of(&self, place: u32, name: u16) -> &str {
        let p = &self.places[place as usize];
        match name {
            0 => &p.name,
            1 => &p.ascii_name,
            k => self.alternates[place as usize]
                .get(usize::from(k) - 2)
                .map(|s| &**s)
                .unwrap_or(&p.name),
        }
    }

    /// Places with a name or alternate name starting with `query` (folded),
    /// most populous first, each place once.
    pub fn search(&self, query: &str, limit: usize) -> Vec<PlaceMatch> {
        let q = fold(query);
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let start = self.index.partition_point(|e| *e.key < *q);
        // best (lowest) name index per place
        let mut best: HashMap<u32, u16> = HashMap::new();
        for e in self.index[start..]
            .iter()
            .take_while(|e| e.key.starts_with(q.as_str()))
        {
            best.entry(e.place)
                .and_modify(|n| *n = (*n).min(e.name))
                .or_insert(e.name);
        }
        let mut hits: Vec<(u32, u16)> = best.into_iter().collect();
        let by_rank = |a: &(u32, u16), b: &(u32, u16)| {
            let (pa, pb) = (&self.places[a.0 as usize], &self.places[b.0 as usize]);
            pb.population.cmp(&pa.population).then(pa.id.cmp(&pb.id))
        };
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit - 1, by_rank);
            hits.truncate(limit);
        }
        hits.sort_unstable_by(by_rank);
        hits.into_iter()
            .map(|(p, n)| PlaceMatch {
                place: self.places[p as usize].clone(),
                matched_name: self.name_of(p, n).to_owned(),
            })
            .collect()
    }

    /// The nearest place to a point and its distance in km.
    pub fn nearest(&self, lat: f64, lon: f64) -> Option<(&Place, f64)> {
        let cos_lat = lat.to_radians().cos();
        let mut best: Option<(usize, f64)> = None;
        for (i, p) in self.places.iter().enumerate() {
            let dlat = p.lat - lat;
            let mut dlon = (p.lon - lon).abs();
            if dlon > 180.0 {
                dlon = 360.0 - dlon;
            }
            let c = 0.5 * (cos_lat + p.lat.to_radians().cos());
            let d2 = dlat * dlat + (dlon * c) * (dlon * c);
            if best.is_none_or(|(_, b)| d2 < b) {
                best = Some((i, d2));
            }
        }
        best.map(|(i, _)| {
            let p = &self.places[i];
            (p, haversine_km(lat, lon, p.lat, p.lon))
        })
    }
}

/// Great-circle distance in km.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn folding_strips_diacritics_and_case() {
        assert_eq!(fold("  São   Paulo "), "sao paulo");
        assert_eq!(fold("Zürich"), "zurich");
        assert_eq!(fold("Łódź"), "lodz");
        assert_eq!(fold("Straße"), "strasse");
    }

    #[test]
    fn bundled_search_and_nearest() {
        let g = Gazetteer::load_bundled().unwrap();
        assert!(g.len() > 20_000);
        let r = g.search("chen", 10);
        assert!(r.iter().any(|m| m.place.name == "Chennai"));
        assert!(r.iter().all(|m| fold(&m.matched_name).starts_with("chen")));
        assert_eq!(g.search("chenn", 1)[0].place.name, "Chennai");
        assert!(r
            .windows(2)
            .all(|w| w[0].place.population >= w[1].place.population));
        let r = g.search("MADRAS", 5);
        assert!(r
            .iter()
            .any(|m| m.place.id == 1264527 && m.matched_name == "Madras"));
        assert_eq!(g.search("zuri", 3)[0].place.name, "Zürich");
        assert_eq!(g.search("zürí", 3)[0].place.name, "Zürich");
        let (p, d) = g.nearest(13.08, 80.27).unwrap();
        assert_eq!(p.tz, "Asia/Kolkata");
        assert!(d < 20.0);
        let started = std::time::Instant::now();
        for _ in 0..10 {
            let _ = g.search("s", 10);
        }
        eprintln!("10 one-letter searches: {:?}", started.elapsed());
    }
}
