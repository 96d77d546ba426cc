use super::climb::INCREASE;
use super::cut::MIN_CUT;
use super::*;

/// A pace of 5 a second, cut from 10 at the end of slow start (the level is 2.5), with no
/// fast recovery: only the increase, the probe and what the server says of its room move it.
fn cut_to_five() -> Aimd {
    let mut aimd = Aimd::new(10.0);
    aimd.decrease(10.0, Duration::ZERO, None);
    aimd.recover_to = 0.0;
    aimd
}

/// `count` successes `every` apart after `now`, requests waiting, each answer saying `room`
/// with short round trips; returns when the last came.
fn successes(
    aimd: &mut Aimd,
    mut now: Duration,
    every: Duration,
    count: u32,
    room: Room,
) -> Duration {
    for _ in 0..count {
        now += every;
        aimd.record(now, true);
        aimd.taken(now, true, room, 0.01);
    }
    now
}

/// Two processes crowded far under the level they found (one to 2 requests a second, one
/// to 8) climb by the same amount a second, so their shares converge. In proportion to
/// their paces (the climb above the level) they would keep their 1:4 for ever.
#[test]
fn under_the_level_paces_climb_alike() {
    let climb = |pace: f64| {
        let mut aimd = Aimd::new(40.0);
        // Slow start ends with a cut to 20 a second: the level is 10.
        aimd.decrease(40.0, Duration::ZERO, None);
        assert_eq!(aimd.level, 10.0);
        (aimd.rate, aimd.recover_to) = (pace, 0.0);
        // One second of successes at the pace, requests waiting, short round trips.
        for i in 1..=pace as u32 {
            let now = Duration::from_secs_f64(f64::from(i) / pace);
            aimd.taken(now, true, Room::WAITING, 0.01);
        }
        aimd.rate() - pace
    };
    let (low, high) = (climb(2.0), climb(8.0));
    // 2 % of the level a second: 0.2, for both.
    assert!((0.18..=0.21).contains(&low), "{low}");
    assert!((0.18..=0.21).contains(&high), "{high}");
}

/// On a free tier's half a request a second, slow start ends far too high (a level of 5):
/// eight successes two seconds apart hold the level to three times what was served, and
/// the additive increase to 1 % a request.
#[test]
fn a_slow_server_holds_the_level_to_what_it_served() {
    let mut aimd = Aimd::new(20.0);
    aimd.decrease(20.0, Duration::ZERO, None);
    assert_eq!(aimd.level, 5.0);
    (aimd.rate, aimd.recover_to) = (0.45, 0.0);
    for i in 1..=8 {
        let now = Duration::from_secs(2 * i);
        aimd.record(now, true);
        if i < 8 {
            assert_eq!(aimd.level, 5.0, "seven successes measure nothing yet");
        }
    }
    assert!((aimd.level - 1.5).abs() < 1e-9, "{}", aimd.level);

    // Above the level, one success adds 1 % of the pace, not 0.02 a second (4 %).
    (aimd.rate, aimd.level) = (0.5, 0.0);
    aimd.taken(Duration::from_secs(18), true, Room::WAITING, 0.02);
    assert!((aimd.rate() - 0.505).abs() < 1e-9, "{}", aimd.rate());
}

/// A quiet spell measured against a long round trip, which then shortens: the probe starts
/// where the curve is when it shortens, not seconds along it (that put the pace x10 over
/// the limit within one round trip: 75 429s in a run of 300 on `rtt-300-none`).
#[test]
fn a_probe_grows_from_when_it_starts() {
    let mut aimd = Aimd::new(60.0);
    let ms = Duration::from_millis;
    aimd.decrease(60.0, Duration::ZERO, None);
    // 5 s of successes while requests wait, round trips of 300 ms: quiet needs 9 s.
    let mut now = Duration::ZERO;
    for _ in 0..250 {
        now += ms(20);
        aimd.taken(now, true, Room::WAITING, 0.3);
    }
    assert!(aimd.probe_from.is_none());
    // Fast recovery to 90 % of the pace cut, a little additive increase: no probe yet.
    let before = aimd.rate();
    assert!(before < 60.0, "{before}");
    // The round trips shorten to 10 ms: quiet is now 1.5 s, long past.
    for _ in 0..20 {
        now += ms(20);
        aimd.taken(now, true, Room::WAITING, 0.01);
    }
    let probed = aimd.rate();
    assert!(aimd.probe_from.is_some());
    // 0.4 s along the curve: under 10 % up, not x1.25 per success.
    assert!(probed < before * 1.1, "{before} -> {probed}");
}

/// A probe under way while the round trips lengthen past the quiet spell holds, clock and
/// all, and resumes where it was once they shorten: no jump up its curve.
#[test]
fn a_probe_holds_while_round_trips_are_long() {
    let mut aimd = Aimd::new(40.0);
    let ms = Duration::from_millis;
    aimd.decrease(40.0, Duration::ZERO, None);
    let mut now = Duration::ZERO;
    let mut step = |aimd: &mut Aimd, rtt: f64, n: usize| {
        for _ in 0..n {
            now += ms(25);
            aimd.taken(now, true, Room::WAITING, rtt);
        }
    };
    // Short round trips: quiet for 1.5 s, then 0.3 s of probing.
    step(&mut aimd, 0.01, 72);
    assert!(aimd.probe_from.is_some());
    let before = aimd.rate();
    // A second of 300 ms round trips: the spell is 4.5 s now, longer than the 1.8 s on
    // the curve.
    step(&mut aimd, 0.3, 40);
    let held = aimd.rate();
    assert!(held < before * 1.01, "{before} -> {held}");
    // Short again: one success goes on from 0.3 s along the curve, not 1.3 s.
    step(&mut aimd, 0.01, 1);
    let resumed = aimd.rate();
    assert!(resumed < held * 1.03, "{held} -> {resumed}");
}

/// While the server's count reads below its recent peak, no probe starts however long the
/// spell without a 429: only the additive increase goes on. Once it reads at its peak again
/// the probe starts, from where the pace is.
#[test]
fn no_probe_while_the_servers_count_is_spent() {
    let run = |crowded: bool| {
        let mut aimd = cut_to_five();
        let start = aimd.rate();
        // 12 s of successes at the pace: the quiet spell is 4 s (20 intervals of 5 a second).
        let room = Room {
            crowded,
            ..Room::WAITING
        };
        let now = successes(
            &mut aimd,
            Duration::ZERO,
            Duration::from_millis(200),
            60,
            room,
        );
        (aimd, start, now)
    };
    let (free, start, _) = run(false);
    assert!(free.rate() > start * 1.5, "{start} -> {}", free.rate());
    let (mut crowded, start, mut now) = run(true);
    assert!(crowded.probe_from.is_none());
    // The additive increase alone: INCREASE per success.
    let additive = start + 60.0 * INCREASE;
    assert!(
        crowded.rate() <= additive + 1e-9,
        "{start} -> {}",
        crowded.rate()
    );
    // The count refills: the probe starts now, from the pace it has reached.
    let held = crowded.rate();
    now += Duration::from_millis(200);
    crowded.taken(now, true, Room::WAITING, 0.01);
    assert_eq!(crowded.probe_from, Some(held));
}

/// A refill measured before the limit fell from 50 to 25 a second still reads 50: once 429s
/// keep coming, the rate the server took between them caps the cut's estimate, and one cut
/// settles under 25 instead of ten 5 % cuts.
#[test]
fn a_stale_refill_gives_way_to_what_the_server_delivers() {
    let mut aimd = Aimd::new(50.0);
    aimd.decrease(50.0, Duration::ZERO, None);
    let ms = Duration::from_millis;
    // A 429, ten successes 40 ms apart (25 a second), and the 429 now answered.
    aimd.record(ms(1_000), false);
    for i in 1..=10 {
        aimd.record(ms(1_000 + 40 * i), true);
    }
    aimd.record(ms(1_420), false);
    aimd.decrease(48.0, ms(1_420), Some(50.0));
    // 10 taken over 0.42 s, less the margin.
    assert!(aimd.rate() < 25.0, "{}", aimd.rate());
    assert!(aimd.rate() > 20.0, "{}", aimd.rate());

    // With a single 429 in the window nothing is measured: the refill stands, and the cut
    // is the gentlest.
    let mut aimd = Aimd::new(50.0);
    aimd.decrease(50.0, Duration::ZERO, None);
    for i in 1..=10 {
        aimd.record(ms(1_000 + 40 * i), true);
    }
    aimd.record(ms(1_420), false);
    aimd.decrease(48.0, ms(1_420), Some(50.0));
    assert!(
        (aimd.rate() - 48.0 * MIN_CUT).abs() < 1e-9,
        "{}",
        aimd.rate()
    );
}

/// Spare room reported while requests wait is the evidence a quiet spell stands for: the
/// probe starts with the first such success, not 20 intervals of the pace later.
#[test]
fn a_bucket_filling_starts_the_probe_at_once() {
    let run = |spare: bool| {
        let mut aimd = cut_to_five();
        let start = aimd.rate();
        // 1.6 s of successes at the pace: the quiet spell is 4 s (under 3 s once the spare
        // room's growth has raised the pace).
        let room = Room {
            spare,
            ..Room::WAITING
        };
        successes(
            &mut aimd,
            Duration::ZERO,
            Duration::from_millis(200),
            8,
            room,
        );
        (aimd, start)
    };
    let (quiet, start) = run(false);
    assert!(quiet.probe_from.is_none());
    let (spare, _) = run(true);
    assert!(spare.probe_from.is_some());
    // 1.6 s along the probe's curve, on top of the spare room's growth.
    assert!(spare.rate() > 2.0 * start, "{start} -> {}", spare.rate());
    assert!(
        spare.rate() > 1.5 * quiet.rate(),
        "{} / {}",
        spare.rate(),
        quiet.rate()
    );
}

/// While the server's bucket reads full, the pace grows 10 % a success, as slow start does:
/// not once the count dips below its peak, and slowed by the square of the round trip's
/// ratio where a full reading is a long round trip old.
#[test]
fn a_full_bucket_grows_the_pace_until_the_count_dips() {
    let grown = |full: bool, crowded: bool, rtt: f64| {
        let mut aimd = cut_to_five();
        let start = aimd.rate();
        let room = Room {
            full,
            crowded,
            ..Room::WAITING
        };
        aimd.taken(Duration::from_millis(100), true, room, rtt);
        aimd.rate() / start
    };
    assert!((grown(true, false, 0.01) - 1.1).abs() < 1e-9);
    // The additive increase alone: well under 1 %.
    assert!(grown(false, false, 0.01) < 1.01);
    assert!(grown(true, true, 0.01) < 1.01);
    // 100 ms round trips: a quarter of the step.
    assert!((grown(true, false, 0.1) - 1.025).abs() < 1e-9);
}

/// A process left alone at a fleet's tail, at 5 a second after the server took its requests
/// at 100 a second: its quiet spell counts intervals of the 100, so it probes after 1.5 s,
/// not after 20 of its own intervals (4 s).
#[test]
fn the_quiet_spell_counts_intervals_of_what_was_served() {
    let run = |served_fast: bool| {
        let mut aimd = cut_to_five();
        let mut cut = Duration::ZERO;
        if served_fast {
            for _ in 0..8 {
                cut += Duration::from_millis(10);
                aimd.record(cut, true);
            }
        }
        // 2 s of successes at the pace, 200 ms apart.
        let now = successes(
            &mut aimd,
            cut,
            Duration::from_millis(200),
            10,
            Room::WAITING,
        );
        (aimd.probe_from.is_some(), now - cut)
    };
    let (probing, after) = run(true);
    assert!(probing, "no probe after {after:?}");
    let (probing, after) = run(false);
    assert!(
        !probing,
        "a probe after {after:?} of its own slow intervals"
    );
}

/// A probe after 4 s of quiet from a pace of 5, whose first 429 comes at `found` times the
/// pace it started from, `run` successes after the last cut, with `refill` measured or not;
/// returns that start and the learner after the cut.
fn a_probes_429(found: f64, run: u32, refill: Option<f64>) -> (f64, Aimd) {
    let mut aimd = cut_to_five();
    let now = successes(
        &mut aimd,
        Duration::ZERO,
        Duration::from_millis(200),
        20,
        Room::WAITING,
    );
    let from = aimd.probe_from.expect("a probe after 4 s of quiet");
    aimd.run = run;
    aimd.decrease(from * found, now, refill);
    (from, aimd)
}

/// A probe that draws its 429 within twice the pace it started from found no more room than
/// that pace: fast recovery after the cut climbs back no further than it (to 0.9 of the
/// probe's peak, it climbed back over a server of 2 a second before every probe: 0.13 429s
/// per request, on our simulator). The cut itself is the measure's, as after any 429.
#[test]
fn a_probe_that_finds_nothing_recovers_no_further_than_its_start() {
    let probe = |found: f64| {
        // Few successes since the last cut: the measure cuts deep, under the probe's start.
        let (from, aimd) = a_probes_429(found, 2, None);
        (from, aimd.rate(), aimd.recover_to)
    };
    let (from, rate, recover_to) = probe(1.5);
    assert!(rate < from, "{from} -> {rate}");
    assert!((recover_to - from).abs() < 1e-9, "{recover_to}, not {from}");
    // A probe that went past twice its start found a higher limit: recovery aims at 0.9 of
    // the pace the 429 came at, as after any deep cut.
    let (from, _, recover_to) = probe(2.5);
    assert!((recover_to - 2.25 * from).abs() < 1e-9, "{recover_to}");
}

/// A probe whose 429 came under 1.5 times its start found the burst, not a higher limit: the
/// pace goes back to the start however many successes the measure counts. Past 1.5 times, or
/// with the server's refill measured, the measure's cut stands.
#[test]
fn a_probe_that_finds_only_the_burst_goes_back_to_its_start() {
    let probe = |found: f64, refill: Option<f64>| {
        // Many successes since the last cut: the measure cuts by MIN_CUT alone.
        let (from, aimd) = a_probes_429(found, 200, refill);
        (from, aimd.rate())
    };
    let (from, rate) = probe(1.2, None);
    assert!((rate - from).abs() < 1e-9, "{from} -> {rate}");
    let (from, rate) = probe(1.6, None);
    assert!(
        (rate - 1.6 * MIN_CUT * from).abs() < 1e-9,
        "{from} -> {rate}"
    );
    // The refill measured from `remaining` sets the cut instead.
    let (from, rate) = probe(1.2, Some(100.0));
    assert!(
        (rate - 1.2 * MIN_CUT * from).abs() < 1e-9,
        "{from} -> {rate}"
    );
}

/// Slow start grows by half a pace at a time to its ceiling, not past it, and ends there;
/// a ceiling under the pace does not hold it.
#[test]
fn slow_start_stops_at_its_ceiling() {
    let capped = |ceiling| Room {
        start_ceiling: Some(ceiling),
        ..Room::WAITING
    };
    let mut aimd = Aimd::new(20.0);
    let mut paces = Vec::new();
    let mut now = Duration::ZERO;
    while aimd.starting() {
        now = successes(&mut aimd, now, Duration::from_millis(10), 1, capped(50.0));
        if paces.last() != Some(&aimd.rate()) {
            paces.push(aimd.rate());
        }
        assert!(now < Duration::from_secs(1), "slow start never ended");
    }
    assert_eq!(paces, [20.0, 30.0, 45.0, 50.0]);
    assert_eq!(aimd.level, 25.0, "the level is half where it ended");

    let mut aimd = Aimd::new(20.0);
    successes(
        &mut aimd,
        Duration::ZERO,
        Duration::from_millis(10),
        2,
        capped(15.0),
    );
    assert!(aimd.starting());
    assert_eq!(aimd.rate(), 30.0);
}
