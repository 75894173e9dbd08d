//! Property tests for the proto3 JSON scalar helpers.

use kumo_wire::protobuf::Duration;
use kumo_wire::run_v2;
use proptest::prelude::*;

proptest! {
    #[test]
    fn duration_format_parse_round_trip(secs in 0i64..315_576_000_000, nanos in 0i32..1_000_000_000, neg: bool) {
        let d = if neg { Duration { seconds: -secs, nanos: -nanos } } else { Duration { seconds: secs, nanos } };
        let text = d.format();
        prop_assert!(text.ends_with('s'));
        prop_assert_eq!(Duration::parse(&text).unwrap(), d);
    }

    #[test]
    fn duration_parse_never_panics(s in "\\PC*") {
        let _ = Duration::parse(&s);
    }

    #[test]
    fn int64_round_trips_as_string(n: i64) {
        let svc = run_v2::Service { generation: Some(n), ..Default::default() };
        let v = serde_json::to_value(&svc).unwrap();
        prop_assert_eq!(&v["generation"], &serde_json::Value::String(n.to_string()));
        let back: run_v2::Service = serde_json::from_value(v).unwrap();
        prop_assert_eq!(back.generation, Some(n));
        let from_number: run_v2::Service = serde_json::from_str(&format!("{{\"generation\": {n}}}")).unwrap();
        prop_assert_eq!(from_number.generation, Some(n));
    }

    #[test]
    fn every_ingress_number_and_name_parses(i in 0usize..5) {
        let e = run_v2::IngressTraffic::ALL[i];
        let by_num: run_v2::IngressTraffic = serde_json::from_str(&e.number().to_string()).unwrap();
        let by_name: run_v2::IngressTraffic = serde_json::from_str(&format!("\"{}\"", e.as_str())).unwrap();
        prop_assert_eq!(by_num, e);
        prop_assert_eq!(by_name, e);
    }
}
