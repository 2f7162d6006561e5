use astro::ephem::{moon_state, Epoch};
use astro::math::*;
use std::io::BufRead;
fn main() {
    let h: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0.1);
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let mut it = line.split_whitespace();
        let jd: f64 = it.next().unwrap().parse().unwrap();
        let refl: f64 = it.next().unwrap().parse().unwrap();
        let ep = Epoch::new(jd);
        let ay = astro::ayanamsa::mean_ayanamsa(astro::Ayanamsa::Lahiri, ep.t);
        let (tn, _) = ep.true_node();
        let p = |dt: f64| mul_mv(&ep.prec, moon_state(ep.t + dt / 36525.0).pos);
        let r0 = p(0.0);
        let v = scale(sub(p(h), p(-h)), 0.5 / h);
        let n = cross(r0, v);
        let lon = n[0].atan2(-n[1]).rem_euclid(std::f64::consts::TAU);
        let d = |x: f64| { let mut e = (x / DEG - ay - refl) % 360.0; if e > 180.0 { e -= 360.0 } if e < -180.0 { e += 360.0 } e * 3600.0 };
        println!("{:+8.2} {:+8.2}", d(tn), d(lon));
    }
}
