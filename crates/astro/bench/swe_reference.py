#!/usr/bin/env python3
"""Generate independent random reference charts with pyswisseph (Moshier),
following shared/reference/astro/README.md, to validate the engine beyond the
committed sample. Validation only: pyswisseph (AGPL) is never a dependency.

Usage: python3 swe_reference.py N [SEED] > ref.jsonl
       astro batch < ref.jsonl > cand.jsonl
       python3 ../../../../shared/reference/astro/compare.py ref.jsonl cand.jsonl --max-arcsec 30
"""
import json, random, math, sys
import swisseph as swe
swe.set_ephe_path(None)
swe.set_sid_mode(swe.SIDM_LAHIRI, 0, 0)
random.seed(int(sys.argv[2]) if len(sys.argv)>2 else 7)
N=int(sys.argv[1])
F=swe.FLG_MOSEPH|swe.FLG_SIDEREAL|swe.FLG_SPEED
names={'sun':swe.SUN,'moon':swe.MOON,'mercury':swe.MERCURY,'venus':swe.VENUS,'mars':swe.MARS,'jupiter':swe.JUPITER,'saturn':swe.SATURN,'rahu':swe.MEAN_NODE,'true_rahu':swe.TRUE_NODE}
LORDS=["ketu","venus","sun","moon","mars","rahu","jupiter","saturn","mercury"]; YEARS=[7,20,6,10,7,18,16,19,17]
import datetime
a=datetime.datetime(1900,1,1,tzinfo=datetime.timezone.utc).timestamp(); b=datetime.datetime(2050,12,31,tzinfo=datetime.timezone.utc).timestamp()
for i in range(N):
    ts=int(random.uniform(a,b)); lat=round(random.uniform(-60,60),6); lon=round(random.uniform(-180,180),6)
    jd=2440587.5+ts/86400
    g={}
    for k,b_ in names.items():
        xx,_=swe.calc_ut(jd,b_,F)
        g[k]={'lon':xx[0],'lat':xx[1],'speed':xx[3],'sign':int(xx[0]//30),'nakshatra':int(xx[0]*27/360),'pada':int(xx[0]*108/360)%4+1,'retrograde':xx[3]<0}
    for k,o in (('ketu','rahu'),('true_ketu','true_rahu')):
        l=(g[o]['lon']+180)%360
        g[k]={'lon':l,'lat':-g[o]['lat'],'speed':g[o]['speed'],'sign':int(l//30),'nakshatra':int(l*27/360),'pada':int(l*108/360)%4+1,'retrograde':g[o]['speed']<0}
    cusps,ascmc=swe.houses_ex(jd,lat,lon,b'P',swe.FLG_SIDEREAL)
    asc=ascmc[0]; mc=ascmc[1]
    ws=[((int(asc//30)+k)%12)*30.0 for k in range(12)]
    moon=g['moon']['lon']; x=moon*27/360; nak=int(x)
    el=(moon-g['sun']['lon'])%360
    rec={'id':i,'utc':datetime.datetime.fromtimestamp(ts,datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),'jd_ut':jd,'lat':lat,'lon':lon,
      'delta_t_s':swe.deltat_ex(jd,swe.FLG_MOSEPH)*86400,'ayanamsa':swe.get_ayanamsa_ex_ut(jd,swe.FLG_MOSEPH)[1],'grahas':g,
      'ascendant':{'lon':asc,'sign':int(asc//30),'nakshatra':int(asc*27/360),'pada':int(asc*108/360)%4+1},'mc':{'lon':mc,'sign':int(mc//30)},
      'houses':{'whole_sign':ws,'placidus':list(cusps)},'nakshatra':{'index':nak,'pada':int(moon*108/360)%4+1},
      'dasha':{'lord':LORDS[nak%9],'balance_years':(1-(x-nak))*YEARS[nak%9]},'tithi':{'index':int(el//12)+1,'elongation':el},'weekday_utc':int((math.floor(jd+0.5)+1)%7)}
    print(json.dumps(rec))
