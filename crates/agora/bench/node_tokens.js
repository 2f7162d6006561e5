// Tokens per second of Agora's npm package `agora-token`, for
// `just bench-media` (crates/agora/examples/agora_bench.rs runs it beside
// our builder). Builds the same RTC publisher token (007) and a 006 token
// as the Rust side for SECONDS seconds each and prints
// `007 <tokens/s>` and `006 <tokens/s>`.
const { AccessToken2, ServiceRtc } = require("agora-token/src/AccessToken2");
const { AccessToken } = require("agora-token/src/AccessToken");

const seconds = Number(process.argv[2] || "2");
const APP_ID = "970CA35de60c44645bbae8a215061b33";
const CERT = "5CFd2fd1755d40ecb72977518be15d3b";

function rate(build) {
  let n = 0;
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let sink = 0;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 100; i++) {
      sink += build(n + i).length;
    }
    n += 100;
  }
  if (sink === 0) throw new Error("no tokens");
  return n / seconds;
}

const r007 = rate((i) => {
  const t = new AccessToken2(APP_ID, CERT, 1700000000, 3600);
  t.salt = (i % 99999999) + 1;
  const s = new ServiceRtc("jf-session-4f1c2d", 1000 + (i % 1000));
  for (const p of [1, 2, 3, 4]) s.add_privilege(p, 3600);
  t.add_service(s);
  return t.build();
});
const r006 = rate((i) => {
  const t = new AccessToken(APP_ID, CERT, "jf-session-4f1c2d", 1000 + (i % 1000));
  t.salt = (i % 99999999) + 1;
  t.ts = 1700003600;
  t.addPriviledge(1, 1700003600);
  return t.build();
});
console.log(`007 ${r007.toFixed(0)}`);
console.log(`006 ${r006.toFixed(0)}`);
