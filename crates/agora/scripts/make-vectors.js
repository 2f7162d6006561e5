// Writes tests/vectors.json: tokens made by Agora's own npm package
// `agora-token` for cases the shared reference does not hold (all RTC
// roles, several services, uid 0 and the largest uid, UTF-8 accounts,
// issue times above 2^31, 006 with every privilege). The cases use the
// input format of ../shared/reference/agora/check.py, so that checker can
// run them too (`python3 check.py --vectors ... --strict -- media agora-token`).
//
//   cd "$(mktemp -d)" && npm install agora-token@2.0.6 \
//     && NODE_PATH=$PWD/node_modules node /path/to/make-vectors.js \
//     | python3 /path/to/recompress.py > tests/vectors.json
const { AccessToken2, ServiceRtc, ServiceRtm } = require("agora-token/src/AccessToken2");
const { AccessToken } = require("agora-token/src/AccessToken");

const APP_ID = "970CA35de60c44645bbae8a215061b33";
const CERT = "5CFd2fd1755d40ecb72977518be15d3b";
const cases = [];

function v007(id, issueTs, salt, expire, services) {
  const t = new AccessToken2(APP_ID, CERT, issueTs, expire);
  t.salt = salt;
  for (const s of services) {
    let svc;
    if (s.type === 1) svc = new ServiceRtc(s.channel_name, s.uid);
    else svc = new ServiceRtm(s.user_id);
    for (const [p, e] of s.privileges) svc.add_privilege(p, e);
    t.add_service(svc);
  }
  cases.push({
    id, version: "007", app_id: APP_ID, app_certificate: CERT,
    issue_ts: issueTs, salt, expire, services, expected_token: t.build(),
  });
}

function v006(id, channel, uid, salt, ts, privileges) {
  const t = new AccessToken(APP_ID, CERT, channel, uid);
  t.salt = salt;
  t.ts = ts;
  for (const [p, e] of privileges) t.addPriviledge(p, e);
  cases.push({
    id, version: "006", app_id: APP_ID, app_certificate: CERT,
    channel_name: channel, uid, salt, ts, privileges, expected_token: t.build(),
  });
}

const ch = "jf-session-4f1c2d";
v007("007-rtc-publisher-every-privilege", 1700000000, 12345, 3600,
  [{ type: 1, service: "rtc", channel_name: ch, uid: 42, privileges: [[4, 1800], [1, 3600], [3, 900], [2, 600]] }]);
v007("007-rtc-uid-zero", 1700000000, 7, 600,
  [{ type: 1, service: "rtc", channel_name: ch, uid: 0, privileges: [[1, 600]] }]);
v007("007-rtc-string-zero", 1700000000, 7, 600,
  [{ type: 1, service: "rtc", channel_name: ch, uid: "0", privileges: [[1, 600]] }]);
v007("007-rtc-max-uid", 1700000000, 99999999, 86400,
  [{ type: 1, service: "rtc", channel_name: ch, uid: 4294967295, privileges: [[1, 86400], [2, 86400]] }]);
v007("007-rtc-utf8-account", 1700000000, 31337, 600,
  [{ type: 1, service: "rtc", channel_name: "சத்சங்கம்-सत्संग", uid: "स्वामी-ஜி", privileges: [[1, 600], [2, 600], [3, 600], [4, 600]] }]);
v007("007-rtm-then-rtc", 3000000000, 4242, 7200,
  [{ type: 2, service: "rtm", user_id: "reader-108", privileges: [[1, 7200]] },
   { type: 1, service: "rtc", channel_name: ch, uid: 1008, privileges: [[1, 7200], [2, 3600]] }]);
v007("007-issue-ts-max", 4294967295, 1, 0,
  [{ type: 2, service: "rtm", user_id: "u", privileges: [[1, 0]] }]);
v007("007-rtm-utf8-user", 1800000000, 5, 60,
  [{ type: 2, service: "rtm", user_id: "ஜோதி✨", privileges: [[1, 60]] }]);
v006("006-publisher-account", ch, "reader-108", 99, 1700003600, [[1, 1700003600], [2, 1700003600], [3, 1700003600], [4, 0]]);
v006("006-uid-zero", ch, 0, 4294967295, 4294967295, [[1, 0]]);
v006("006-utf8-channel", "சத்சங்கம்", 4294967295, 12, 1900000000, [[1, 1900000000]]);

process.stdout.write(JSON.stringify(cases, null, 1) + "\n");
