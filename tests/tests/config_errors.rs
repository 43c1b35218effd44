//! Bad configuration: every role exits non-zero with one line naming the variable or flag, the value and the
//! expected form, and starts nothing. `--help` lists every flag with its default.

use integration_tests::{binary, run_to_exit, ScratchDir};

fn one_line_error(program: &str, args: &[&str], env: &[(&str, &str)], must_contain: &[&str]) {
    let (code, output) = run_to_exit(&binary(program), args, env);
    assert_ne!(code, 0, "{program} {args:?} {env:?} should fail: {output}");
    assert_eq!(output.trim().lines().count(), 1, "one line expected: {output}");
    for part in must_contain {
        assert!(output.contains(part), "{output:?} should contain {part:?}");
    }
}

#[test]
fn master_rejects_bad_values_and_unknown_flags() {
    one_line_error("mesos-master", &[], &[("MESOS_PORT", "abc")], &["MESOS_PORT", "'abc'", "integer"]);
    one_line_error("mesos-master", &[], &[("MESOS_ZK", "http://h:2181/mesos")], &["MESOS_ZK", "zk://"]);
    one_line_error(
        "mesos-master",
        &[],
        &[("MESOS_REGISTRY", "etcd")],
        &["MESOS_REGISTRY", "in_memory, replicated_log"],
    );
    one_line_error("mesos-master", &["--bogus=1"], &[], &["unknown flag 'bogus'"]);
    one_line_error("mesos-master", &["--port"], &[], &["port", "Missing value"]);
    one_line_error(
        "mesos-master",
        &[],
        &[("MESOS_ALLOCATION_INTERVAL", "1 second")],
        &["MESOS_ALLOCATION_INTERVAL", "duration"],
    );
    one_line_error("mesos-master", &[], &[("MESOS_REGISTRY", "replicated_log")], &["work_dir"]);
}

#[test]
fn agent_rejects_bad_values() {
    one_line_error("mesos-agent", &[], &[], &["master", "MESOS_MASTER"]);
    one_line_error("mesos-agent", &[], &[("MESOS_MASTER", "zk://nohostport/mesos")], &["MESOS_MASTER"]);
    one_line_error(
        "mesos-agent",
        &[],
        &[("MESOS_MASTER", "m:5050"), ("MESOS_RESOURCES", "cpus:lots")],
        &["MESOS_RESOURCES", "'cpus:lots'"],
    );
    one_line_error(
        "mesos-agent",
        &[],
        &[("MESOS_MASTER", "m:5050"), ("MESOS_ATTRIBUTES", "rack")],
        &["MESOS_ATTRIBUTES", "'rack'"],
    );
    one_line_error(
        "mesos-agent",
        &[],
        &[("MESOS_MASTER", "m:5050"), ("MESOS_CONTAINERIZERS", "rkt")],
        &["containerizers", "mesos, docker"],
    );
    // The legacy name (a symlink in the image) behaves the same.
    let dir = ScratchDir::new("mesos-slave");
    let slave = dir.path().join("mesos-slave");
    std::os::unix::fs::symlink(binary("mesos-agent"), &slave).unwrap();
    let (code, output) = run_to_exit(&slave, &[], &[("MESOS_PORT", "99999"), ("MESOS_MASTER", "m:5050")]);
    assert_ne!(code, 0);
    assert!(output.contains("MESOS_PORT") && output.contains("'99999'"), "{output}");
}

#[test]
fn marathon_rejects_bad_values_and_unknown_env() {
    one_line_error("marathon", &[], &[], &["master"]);
    one_line_error("marathon", &["--master", "m:5050", "--http_port", "http"], &[], &["--http_port", "'http'"]);
    one_line_error("marathon", &["--master", "m:5050"], &[("MARATHON_NOT_A_FLAG", "1")], &["MARATHON_NOT_A_FLAG"]);
    one_line_error("marathon", &["--master", "m:5050", "--zk", "zk://z:2181"], &[], &["--zk", "zk://[user:pass@]"]);
}

#[test]
fn help_lists_every_flag_with_its_default() {
    for (program, flags) in [
        ("mesos-master", &["--port", "--zk", "--registry", "--quorum", "--work_dir"][..]),
        ("mesos-agent", &["--master", "--work_dir", "--containerizers", "--resources"][..]),
        ("marathon", &["--master", "--zk", "--http_port"][..]),
    ] {
        let (code, output) = run_to_exit(&binary(program), &["--help"], &[]);
        assert_eq!(code, 0, "{output}");
        for flag in flags {
            assert!(output.contains(flag), "{program} --help lacks {flag}");
        }
        assert!(output.contains("default:"));
    }
}
