//! `hush scan`, `hush baseline` and `hush rules` driven through the real binary, as users and CI
//! scripts drive them: exit codes, output formats, paths, redaction, allowlists and bad input.

use std::fs;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// A real-format GitHub token with a valid checksum (rule `github-pat`). Built at run time so
/// that this file itself holds no scannable token.
fn token() -> String {
    ["ghp_UU2h7RsOIv020X", "EpWXEhWi955aBVsI0j08yS"].concat()
}

fn hush(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("hush").expect("binary");
    cmd.current_dir(dir)
        .env_remove("HUSH_FORMAT")
        .env_remove("NO_COLOR");
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    hush(dir).args(args).output().expect("run hush")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn repo_with_secret() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(dir.path().join("src")).unwrap();
    fs::write(
        dir.path().join("src/config.py"),
        format!("import os\n\nTOKEN = \"{}\"\n", token()),
    )
    .unwrap();
    fs::write(dir.path().join("src/clean.py"), "print('hello')\n").unwrap();
    dir
}

#[test]
fn clean_tree_exits_zero_and_findings_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "nothing to see\n").unwrap();
    let out = run(dir.path(), &["scan", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("no secrets found"));

    let dir = repo_with_secret();
    let out = run(dir.path(), &["scan", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn json_report_has_the_contract_fields_and_paths() {
    let dir = repo_with_secret();
    let out = run(dir.path(), &["scan", "--format", "json", "."]);
    let doc = json(&out);
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{doc}");
    let f = &findings[0];
    assert_eq!(f["rule_id"], "github-pat");
    assert_eq!(f["path"], "src/config.py", "no leading ./");
    assert_eq!(f["line"], 3);
    assert_eq!(f["column"], 10);
    assert_eq!(f["secret"], "ghp_…");
    assert!(f.get("commit").is_none(), "commit only for history");
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 32);
    for key in [
        "files",
        "bytes",
        "commits",
        "blobs",
        "skipped",
        "duration_ms",
    ] {
        assert!(doc["stats"].get(key).is_some(), "stats.{key} missing");
    }
    assert_eq!(doc["stats"]["files"], 2);

    // An absolute argument is reported absolute; HUSH_FORMAT=json selects JSON.
    let abs = dir.path().canonicalize().unwrap();
    let out = hush(dir.path())
        .env("HUSH_FORMAT", "json")
        .arg("scan")
        .arg(&abs)
        .output()
        .unwrap();
    let doc = json(&out);
    assert_eq!(
        doc["findings"][0]["path"],
        format!("{}/src/config.py", abs.display())
    );
}

#[test]
fn fingerprints_are_stable_across_runs_and_line_moves() {
    let dir = repo_with_secret();
    let first = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    fs::write(
        dir.path().join("src/config.py"),
        format!("# moved down\n\n\n\nTOKEN = \"{}\"\n", token()),
    )
    .unwrap();
    let second = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    assert_eq!(
        first["findings"][0]["fingerprint"],
        second["findings"][0]["fingerprint"]
    );
    assert_ne!(first["findings"][0]["line"], second["findings"][0]["line"]);
}

#[test]
fn no_output_format_reveals_the_secret_unless_asked() {
    let dir = repo_with_secret();
    for format in ["human", "json", "jsonl", "sarif"] {
        let out = run(dir.path(), &["scan", "--format", format, "."]);
        assert_eq!(out.status.code(), Some(1));
        let all = text(&out);
        assert!(
            !all.contains(&token()),
            "{format} leaked the secret:\n{all}"
        );
        assert!(
            !all.contains(&token()[..12]),
            "{format} showed too much:\n{all}"
        );
    }
    let out = run(dir.path(), &["scan", "--show-secrets", "."]);
    assert!(text(&out).contains(&token()));
}

#[test]
fn human_output_is_a_diagnostic_with_a_masked_line() {
    let dir = repo_with_secret();
    let out = run(dir.path(), &["scan", "."]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("src/config.py:3:10: github-pat"),
        "{stdout}"
    );
    assert!(stdout.contains("TOKEN = \"ghp_…\""), "{stdout}");
    assert!(stdout.contains("1 finding in 1 file"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "no colour when not a terminal");
}

/// A Stripe live secret key (rule `stripe-live-secret-key`), built at run time like `token()`.
fn stripe_key() -> String {
    ["sk_live_4eC39HqLyj", "WDarjtT1zdp7dc"].concat()
}

#[test]
fn every_secret_on_a_shown_line_is_masked_however_long_the_line() {
    let dir = tempfile::tempdir().unwrap();
    // Past the shown window of the first secret's line: each finding's context is cut around its
    // own secret, and the other secret must be masked in it all the same.
    let padding = "q".repeat(250);
    let line = format!(
        "x = \"{padding}\"; k = \"{}\"; t = \"{}\"\n",
        stripe_key(),
        token()
    );
    fs::write(dir.path().join("long.py"), &line).unwrap();
    let out = run(dir.path(), &["scan", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert_eq!(all.matches("long.py:1:").count(), 2, "{all}");
    for secret in [stripe_key(), token()] {
        assert!(!all.contains(&secret[..12]), "showed too much:\n{all}");
    }
    assert_eq!(
        all.matches("k = \"sk_l…\"; t = \"ghp_…\"").count(),
        2,
        "{all}"
    );
}

#[test]
fn an_allowed_secret_stays_masked_on_a_line_shown_for_another() {
    let dir = tempfile::tempdir().unwrap();
    let line = format!(
        "c = {{\"a\": \"{}\", \"b\": \"{}\"}}\n",
        stripe_key(),
        token()
    );
    fs::write(dir.path().join("c.py"), line).unwrap();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let stripe = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"].as_str().unwrap().starts_with("stripe"))
        .expect("the Stripe key is found");
    let fingerprint = stripe["fingerprint"].as_str().unwrap();
    fs::write(dir.path().join(".hushignore"), format!("{fingerprint}\n")).unwrap();
    let out = run(dir.path(), &["scan", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("1 finding in 1 file"), "{all}");
    assert!(all.contains("\"a\": \"sk_l…\""), "{all}");
    assert!(
        !all.contains(&stripe_key()[..12]),
        "showed the allowed key:\n{all}"
    );
}

#[test]
fn jsonl_writes_one_object_per_finding_and_nothing_else() {
    let dir = repo_with_secret();
    fs::write(dir.path().join(".env"), "A=1\n").unwrap();
    let out = run(dir.path(), &["scan", "--format", "jsonl", "."]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(v.get("rule_id").is_some());
    }
}

#[test]
fn sarif_is_valid_2_1_0_with_fingerprints() {
    let dir = repo_with_secret();
    let doc = json(&run(dir.path(), &["scan", "--format", "sarif", "."]));
    assert_eq!(doc["version"], "2.1.0");
    let result = &doc["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "github-pat");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "src/config.py");
    assert_eq!(location["region"]["startLine"], 3);
    // `hush/v2`: salted and costly, not comparable with hush 0.1's `hush/v1`.
    assert!(result["partialFingerprints"]["hush/v2"].is_string());
    assert_eq!(
        doc["runs"][0]["tool"]["driver"]["rules"][0]["id"],
        "github-pat"
    );
    // A file name that is not URI-safe is percent-encoded; an absolute path is a file URI.
    fs::write(
        dir.path().join("src/my keys #1.py"),
        format!("k = \"{}\"\n", token()),
    )
    .unwrap();
    let abs = dir.path().join("src").canonicalize().unwrap();
    let out = run(
        dir.path(),
        &["scan", "--format", "sarif", abs.to_str().unwrap()],
    );
    let uris: Vec<String> = json(&out)["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].to_string())
        .collect();
    let prefix = format!("file://{}", abs.display());
    assert!(
        uris.iter()
            .any(|u| u == &format!("\"{prefix}/my%20keys%20%231.py\"")),
        "{uris:?}"
    );
    // Columns are in UTF-16 code units, and say so; JSON keeps byte columns.
    fs::write(
        dir.path().join("src/ru.py"),
        format!("ключ = \"{}\"\n", token()),
    )
    .unwrap();
    let doc = json(&run(
        dir.path(),
        &["scan", "--format", "sarif", "src/ru.py"],
    ));
    assert_eq!(doc["runs"][0]["columnKind"], "utf16CodeUnits");
    let region = &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startColumn"], 9);
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "src/ru.py"]));
    assert_eq!(doc["findings"][0]["column"], 13);
}

#[test]
fn standard_input_is_scanned_as_dash() {
    let dir = tempfile::tempdir().unwrap();
    let out = hush(dir.path())
        .args(["scan", "--format", "json", "-"])
        .write_stdin(format!("key: {}\n", token()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["findings"][0]["path"], "-");
}

#[test]
fn sensitive_files_are_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env"), "").unwrap();
    fs::write(dir.path().join(".env.production"), "X=1\n").unwrap();
    fs::write(dir.path().join(".env.example"), "X=\n").unwrap();
    fs::write(dir.path().join("id_rsa.pub"), "ssh-ed25519 AAAA dev\n").unwrap();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let mut found: Vec<(String, u64)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![(".env".to_string(), 0), (".env.production".to_string(), 1)]
    );
    assert!(doc["findings"][0]["rule_id"]
        .as_str()
        .unwrap()
        .starts_with("file-"));
}

/// Google Cloud credential files are recognised by their content, in either key order; a
/// file of the same type with no refresh token holds nothing.
#[test]
fn gcp_credential_files_are_found_by_content() {
    let dir = tempfile::tempdir().unwrap();
    // As gcloud writes it: keys sorted, refresh_token before type.
    let adc = r#"{"client_id": "7645-x.apps.googleusercontent.com", "client_secret": "d-Q9",
  "refresh_token": "1//0gQ2uKf8mZt3rLx9vB7nW4pYc6sHd", "type": "authorized_user"}"#;
    fs::write(dir.path().join("application_default_credentials.json"), adc).unwrap();
    let reordered = r#"{"type": "external_account_authorized_user",
  "refresh_token": "Tk4pQx8mWz2vLr7nB3yH6sJd9cF1gK5t"}"#;
    fs::write(dir.path().join("wif.json"), reordered).unwrap();
    let empty = r#"{"type": "authorized_user", "refresh_token": ""}"#;
    fs::write(dir.path().join("template.json"), empty).unwrap();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let findings = doc["findings"].as_array().unwrap();
    let mut files: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["rule_id"].as_str().unwrap()))
        .filter(|(_, rule)| rule.starts_with("file-"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            (
                "application_default_credentials.json",
                "file-gcp-user-credentials"
            ),
            ("wif.json", "file-gcp-user-credentials"),
        ]
    );
    assert!(
        findings.iter().all(|f| f["path"] != "template.json"),
        "{doc}"
    );
}

#[test]
fn symlinks_in_a_walk_are_not_followed_but_counted_and_named_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret.txt"), format!("t={}\n", token())).unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("clean.py"), "print('hello')\n").unwrap();
    std::os::unix::fs::symlink("../outside/secret.txt", tree.join("file-link.txt")).unwrap();
    std::os::unix::fs::symlink("../outside", tree.join("dir-link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", tree.join("dangling")).unwrap();
    let out = run(&tree, &["scan", "--format", "json", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["stats"]["symlinks"], 3);
    assert_eq!(doc["stats"]["files"], 1);
    let out = run(&tree, &["scan", "."]);
    assert!(
        text(&out).contains("scanned 1 file (15 B), 3 symlinks not followed in"),
        "{}",
        text(&out)
    );
    // A link named on the command line was asked for, and is followed.
    let out = run(
        &tree,
        &["scan", "--format", "json", "file-link.txt", "dir-link"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(json(&out)["stats"]["symlinks"], 0);
}

#[test]
fn git_directories_are_skipped_and_gitignore_is_not_honoured_by_default() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join(".git")).unwrap();
    fs::write(dir.path().join(".git/config"), format!("t={}\n", token())).unwrap();
    fs::write(dir.path().join(".gitignore"), "secret.txt\n").unwrap();
    fs::write(dir.path().join("secret.txt"), format!("t={}\n", token())).unwrap();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let paths: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["secret.txt"]);
    let out = run(dir.path(), &["scan", "--gitignore", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn inline_allow_comments_of_hush_and_other_tools() {
    let dir = tempfile::tempdir().unwrap();
    let t = token();
    fs::write(
        dir.path().join("a.py"),
        format!(
            "a = \"{t}\"  # hush:allow\nb = \"{t}\"  # gitleaks:allow\nc = \"{t}\"  # pragma: allowlist secret\n"
        ),
    )
    .unwrap();
    let out = run(dir.path(), &["scan", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn hushignore_and_baseline_suppress_known_findings() {
    let dir = repo_with_secret();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let fingerprint = doc["findings"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();

    // Baseline: written atomically to --output, then accepted by --baseline.
    let out = run(
        dir.path(),
        &["baseline", "--output", "baseline.json", "src"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let baseline = fs::read_to_string(dir.path().join("baseline.json")).unwrap();
    // A baseline records a path-independent entry per secret (see
    // `an_allowance_survives_a_rename`), never the secret.
    let doc: Value = serde_json::from_str(&baseline).unwrap();
    let entries = doc["fingerprints"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{baseline}");
    assert!(entries[0]
        .as_str()
        .unwrap()
        .starts_with("hush2:github-pat:"));
    assert!(!baseline.contains(&token()[..8]));
    let out = run(dir.path(), &["scan", "--baseline", "baseline.json", "src"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A new secret is still reported (the same secret elsewhere is not new: a baseline entry
    // allows a secret wherever it is, see `an_allowance_survives_a_rename`).
    fs::write(dir.path().join("src/new.py"), format!("k = \"{AWS}\"\n")).unwrap();
    let out = run(dir.path(), &["scan", "--baseline", "baseline.json", "src"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    fs::remove_file(dir.path().join("src/new.py")).unwrap();

    fs::write(
        dir.path().join(".hushignore"),
        format!("# reviewed\n{fingerprint}  # test key\n"),
    )
    .unwrap();
    let out = run(dir.path(), &["scan", "src"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Pasted in upper case, it still matches.
    let upper = fingerprint.to_ascii_uppercase();
    fs::write(dir.path().join(".hushignore"), format!("{upper}\n")).unwrap();
    let out = run(dir.path(), &["scan", "src"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn config_allows_paths_and_values_disables_and_adds_rules() {
    let dir = repo_with_secret();
    fs::write(
        dir.path().join(".hush.toml"),
        "[allow]\npaths = [\"src/**\"]\n",
    )
    .unwrap();
    assert_eq!(run(dir.path(), &["scan", "."]).status.code(), Some(0));

    fs::write(
        dir.path().join(".hush.toml"),
        "[allow]\nvalues = ['^ghp_UU2h']\n",
    )
    .unwrap();
    assert_eq!(run(dir.path(), &["scan", "."]).status.code(), Some(0));

    fs::write(
        dir.path().join(".hush.toml"),
        "disable = [\"github-pat\"]\n",
    )
    .unwrap();
    assert_eq!(run(dir.path(), &["scan", "."]).status.code(), Some(0));

    fs::write(
        dir.path().join(".hush.toml"),
        r#"[[rule]]
id = "acme-key"
description = "ACME internal key"
keywords = ["acme_"]
regex = '''\b(acme_[a-z0-9]{16})\b'''
"#,
    )
    .unwrap();
    fs::write(
        dir.path().join("src/acme.txt"),
        "k = acme_4f9k2m8q1z7x3c5v\n",
    )
    .unwrap();
    let doc = json(&run(
        dir.path(),
        &["scan", "--format", "json", "src/acme.txt"],
    ));
    assert_eq!(doc["findings"][0]["rule_id"], "acme-key");

    // --config names another file, which replaces .hush.toml (so acme-key is unknown there).
    fs::write(dir.path().join("other.toml"), "# nothing\n").unwrap();
    let out = run(
        dir.path(),
        &["scan", "--config", "other.toml", "src/acme.txt"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn broken_configs_fail_with_one_line_and_exit_two() {
    let cases = [
        "this is not toml",
        "unknown_key = 1\n",
        "disable = [\"no-such-rule\"]\n",
        "[allow]\nvalues = ['(unclosed']\n",
        "[allow]\npaths = ['a/[b']\n",
        "[[rule]]\nid = \"x\"\ndescription = \"d\"\nkeywords = [\"abc\"]\nregex = '(x'\n",
        "[[rule]]\nid = \"x\"\ndescription = \"d\"\nkeywords = [\"abc\"]\nregex = 'abc'\nsecret_group = 3\n",
    ];
    for config in cases {
        let dir = repo_with_secret();
        fs::write(dir.path().join(".hush.toml"), config).unwrap();
        let out = run(dir.path(), &["scan", "."]);
        assert_eq!(out.status.code(), Some(2), "{config:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{config:?}: {stderr}");
        assert!(stderr.starts_with("hush: error: "), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn usage_errors_and_missing_paths_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["scan", "--no-such-flag"][..],
        &["scan", "missing-dir"],
        &["scan", "--format", "xml"],
        &[],
    ] {
        let out = run(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("hush: error: "), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let bare = String::from_utf8_lossy(&run(dir.path(), &[]).stderr).into_owned();
    assert!(bare.contains("a command is needed: scan,"), "{bare}");
}

#[test]
fn a_report_with_secrets_in_full_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = repo_with_secret();
    let mode = |name: &str| {
        fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    run(
        dir.path(),
        &["scan", "--show-secrets", "--output", "full.txt", "src"],
    );
    assert!(fs::read_to_string(dir.path().join("full.txt"))
        .unwrap()
        .contains(&token()));
    assert_eq!(mode("full.txt"), 0o600);
}

#[test]
fn overlapping_paths_report_each_file_once() {
    let dir = repo_with_secret();
    for args in [
        &["scan", "--format", "json", ".", "src"][..],
        &[
            "scan",
            "--format",
            "json",
            "src/config.py",
            "src",
            "src/config.py",
        ][..],
    ] {
        let doc = json(&run(dir.path(), args));
        let found = doc["findings"].as_array().unwrap();
        assert_eq!(found.len(), 1, "{args:?}: {doc:#}");
        assert_eq!(found[0]["path"], "src/config.py");
    }
}

#[test]
fn an_unreadable_input_fails_the_run_and_the_summary_says_so() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("clean.py"), "print('hello')\n").unwrap();
    std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
    let out = run(dir.path(), &["scan", "loop", "clean.py"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("hush: error: ") && stderr.contains("loop"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("no secrets found"), "{stdout}");
    assert!(stdout.contains("1 input could not be read"), "{stdout}");
    let doc = json(&run(
        dir.path(),
        &["scan", "--format", "json", "loop", "clean.py"],
    ));
    assert_eq!(doc["stats"]["errors"], 1);
    assert_eq!(doc["stats"]["files"], 1);
    // A device named on the command line is passed over with a word, not an error about it.
    let out = run(dir.path(), &["scan", "/dev/null", "clean.py"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("skipped '/dev/null': not a regular file"));
}

#[test]
fn binary_and_oversized_files_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut binary = vec![0u8, 1, 2, 3];
    binary.extend_from_slice(format!("t={}", token()).as_bytes());
    fs::write(dir.path().join("blob.bin"), binary).unwrap();
    fs::write(
        dir.path().join("big.txt"),
        format!("{}\nt={}\n", "a".repeat(2000), token()),
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["scan", "--format", "json", "--max-file-size", "1000", "."],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = json(&out);
    assert_eq!(doc["stats"]["skipped"], 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped 'big.txt'"), "{stderr}");
}

#[test]
fn a_named_pipe_is_skipped_with_a_warning_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    fs::write(dir.path().join("a.txt"), format!("t={}\n", token())).unwrap();
    // Named on the command line: a warning, and no read that would block forever.
    let out = run(dir.path(), &["scan", "--format", "json", "pipe", "a.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped 'pipe': not a regular file"),
        "{stderr}"
    );
    // Met in a walk: passed over quietly, as other tools do.
    let out = run(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("pipe"));
}

#[test]
fn invalid_utf8_crlf_and_huge_lines_are_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"\xff\xfe bad utf8 \xc3\x28\r\n".to_vec();
    bytes.extend_from_slice(format!("t = \"{}\"\r\n", token()).as_bytes());
    fs::write(dir.path().join("latin1.txt"), bytes).unwrap();
    // A 4 MB minified line with many keyword hits and one real token in the middle.
    let mut line = "var password=a,token=b,secret=c;".repeat(60_000);
    line.push_str(&format!("x=\"{}\";", token()));
    line.push_str(&"var token=q;".repeat(60_000));
    fs::write(dir.path().join("app.min.js"), line).unwrap();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let found: Vec<(&str, u64)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "github-pat")
        .map(|f| (f["path"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(found, vec![("app.min.js", 1), ("latin1.txt", 2)], "{doc}");
}

#[test]
fn output_file_is_written_whole_and_only_on_success() {
    let dir = repo_with_secret();
    let out = run(
        dir.path(),
        &["scan", "--format", "json", "--output", "report.json", "."],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let doc: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
    // A failed run (bad config) leaves no report and no temporary file behind.
    fs::write(dir.path().join(".hush.toml"), "nope").unwrap();
    let out = run(dir.path(), &["scan", "--output", "second.json", "."]);
    assert_eq!(out.status.code(), Some(2));
    let leftovers: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("second"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `--output` through a symlink writes the file it points to and keeps the link; a path that is
/// a pipe or device (here a link to the captured standard output) is written in place, never
/// replaced by a renamed file.
#[cfg(unix)]
#[test]
fn output_follows_symlinks_and_writes_pipes_in_place() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("src")).unwrap();
    fs::write(
        dir.path().join("src/config.py"),
        format!("TOKEN = \"{}\"\n", token()),
    )
    .unwrap();
    fs::create_dir(dir.path().join("out")).unwrap();
    fs::write(dir.path().join("out/real.json"), "old").unwrap();
    symlink("real.json", dir.path().join("out/link.json")).unwrap();
    symlink("/dev/stdout", dir.path().join("out/stdout")).unwrap();

    let args = [
        "scan",
        "--format",
        "json",
        "--output",
        "out/link.json",
        "src",
    ];
    let out = run(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let link = fs::symlink_metadata(dir.path().join("out/link.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let doc: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("out/real.json")).unwrap())
            .unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);

    let args = ["scan", "--format", "json", "--output", "out/stdout", "src"];
    let out = run(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(json(&out)["findings"].as_array().unwrap().len(), 1);
    let link = fs::symlink_metadata(dir.path().join("out/stdout")).unwrap();
    assert!(
        link.file_type().is_symlink(),
        "the pipe's link was replaced"
    );
    let names: Vec<String> = fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "temporary files left: {names:?}");
}

#[test]
fn rules_lists_every_rule() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["rules", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let rules = json(&out);
    let ids: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"github-pat") && ids.contains(&"file-dotenv"));
    let out = run(dir.path(), &["rules"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("github-pat"));
}

#[test]
fn a_private_key_block_is_reported_at_its_begin_line_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let body: String = (0..12)
        .map(|i| {
            format!(
                "{}\n",
                "q7Zx9Lm2Kp4Rt8Vw"
                    .repeat(4)
                    .replacen('q', &i.to_string(), 1)
            )
        })
        .collect();
    let key = format!(
        "-----BEGIN RSA {}-----\nMIIEow{body}-----END RSA PRIVATE KEY-----\n",
        "PRIVATE KEY"
    );
    fs::write(
        dir.path().join("deploy.txt"),
        format!("# deploy key\n{key}"),
    )
    .unwrap();
    let out = run(dir.path(), &["scan", "--format", "json", "."]);
    let doc = json(&out);
    assert_eq!(doc["findings"][0]["rule_id"], "private-key-rsa", "{doc}");
    assert_eq!(doc["findings"][0]["line"], 2);
    let human = text(&run(dir.path(), &["scan", "."]));
    assert!(!human.contains("q7Zx9Lm2Kp4Rt8Vw"), "{human}");
}

/// An AWS access key id (rule `aws-access-key-id`), split so this file holds no secret.
const AWS: &str = concat!("AKIAZ7VLRD", "Q4HWMFNB5K");

/// hush 0.1's fingerprint: `hex(SHA-256(rule NUL path NUL SHA-256(secret)))[..32]`.
fn legacy_fingerprint(rule: &str, path: &[u8], secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(rule.as_bytes());
    hasher.update([0]);
    hasher.update(path);
    hasher.update([0]);
    hasher.update(Sha256::digest(secret));
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn baseline_entries(dir: &Path, name: &str) -> Vec<String> {
    let doc: Value = serde_json::from_str(&fs::read_to_string(dir.join(name)).unwrap()).unwrap();
    doc["fingerprints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// An allowance made with `hush baseline` (or the hook's advice) names the rule and the secret,
/// not the path: the secret stays allowed when its file is renamed or copied, while another
/// secret of the same rule is still reported. Entries from hush 0.1 (path-bound fingerprints)
/// and version 1 baselines are still honoured.
#[test]
fn an_allowance_survives_a_rename() {
    let dir = repo_with_secret();
    let out = run(dir.path(), &["baseline", "--output", "baseline.json", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let entries = baseline_entries(dir.path(), "baseline.json");
    fs::rename(
        dir.path().join("src/config.py"),
        dir.path().join("src/settings.py"),
    )
    .unwrap();
    let out = run(dir.path(), &["scan", "--baseline", "baseline.json", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    fs::write(dir.path().join(".hushignore"), format!("{}\n", entries[0])).unwrap();
    let out = run(dir.path(), &["scan", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Another secret is not allowed by it.
    fs::remove_file(dir.path().join(".hushignore")).unwrap();
    fs::write(dir.path().join("src/aws.py"), format!("k = \"{AWS}\"\n")).unwrap();
    let out = run(dir.path(), &["scan", "--baseline", "baseline.json", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    fs::remove_file(dir.path().join("src/aws.py")).unwrap();

    // hush 0.1's entries: a fingerprint in `.hushignore`, a version 1 baseline.
    let old = legacy_fingerprint("github-pat", b"src/settings.py", token().as_bytes());
    fs::write(dir.path().join(".hushignore"), format!("{old}\n")).unwrap();
    let out = run(dir.path(), &["scan", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    fs::remove_file(dir.path().join(".hushignore")).unwrap();
    let v1 = serde_json::json!({ "version": 1, "fingerprints": [old.to_ascii_uppercase()] });
    fs::write(dir.path().join("v1.json"), v1.to_string()).unwrap();
    let out = run(dir.path(), &["scan", "--baseline", "v1.json", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A fingerprint or baseline entry must not confirm a guessed secret cheaply: hush 0.1's
/// unsalted SHA-256 confirmed `Summer2024!` in 677 guesses. Neither is that hash any more;
/// entries are salted at random (two baselines of one secret share nothing); a fingerprint is
/// salted by rule and path. What each derivation costs is measured by
/// `scan::fingerprint::tests::one_derivation_costs_milliseconds_not_microseconds` and
/// `benches/fingerprint.rs`.
#[test]
fn fingerprints_and_entries_do_not_confirm_a_guess_cheaply() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Summer2024!";
    fs::write(
        dir.path().join("db.py"),
        format!("password = \"{secret}\"\n"),
    )
    .unwrap();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let finding = &doc["findings"][0];
    assert_eq!(finding["rule_id"], "generic-password", "{doc}");
    let fingerprint = finding["fingerprint"].as_str().unwrap();
    assert_eq!(fingerprint.len(), 32);
    let guesses = ["Winter2023!", "Password1", secret, "Summer2025!"];
    for guess in guesses {
        assert_ne!(
            fingerprint,
            legacy_fingerprint("generic-password", b"db.py", guess.as_bytes()),
            "the unsalted SHA-256 confirms {guess}"
        );
    }
    for name in ["one.json", "two.json"] {
        let out = run(dir.path(), &["baseline", "--output", name, "db.py"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let (one, two) = (
        baseline_entries(dir.path(), "one.json"),
        baseline_entries(dir.path(), "two.json"),
    );
    // Rerunning a baseline in place keeps its entries; a fresh one has fresh salts.
    assert_ne!(one, two);
    let out = run(dir.path(), &["baseline", "--output", "one.json", "db.py"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(baseline_entries(dir.path(), "one.json"), one);
    let entry = &one[0];
    let fields: Vec<&str> = entry.split(':').collect();
    assert_eq!(fields[..2], ["hush2", "generic-password"], "{entry}");
    assert_eq!((fields[2].len(), fields[3].len()), (32, 32), "{entry}");
    assert!(!entry.contains(fingerprint) && !entry.contains(secret));
}

/// A file named after a token shows it in no format: the path is masked like a secret (the
/// scanner runs over it), unless `--show-secrets` is given.
#[test]
fn a_secret_in_a_file_name_is_masked_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{}.txt", token());
    fs::write(dir.path().join(&name), format!("k = \"{AWS}\"\n")).unwrap();
    for format in ["human", "json", "jsonl", "sarif"] {
        let out = run(dir.path(), &["scan", "--format", format, "."]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let all = text(&out);
        assert!(
            !all.contains(&token()[..12]),
            "{format} showed the token:\n{all}"
        );
        // SARIF percent-encodes the `…` of the URI.
        let shown = if format == "sarif" {
            "ghp_%E2%80%A6.txt"
        } else {
            "ghp_….txt"
        };
        assert!(all.contains(shown), "{format} lost the path:\n{all}");
    }
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let paths: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.iter().all(|p| *p == "ghp_….txt"), "{doc}");
    for format in ["human", "json", "sarif"] {
        let out = run(
            dir.path(),
            &["scan", "--show-secrets", "--format", format, "."],
        );
        assert!(text(&out).contains(&name), "{format}: {}", text(&out));
    }
    // Warnings name the file masked too.
    let out = run(dir.path(), &["scan", "--max-file-size", "4", "."]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped 'ghp_….txt'"), "{stderr}");
    assert!(!stderr.contains(&token()[..12]), "{stderr}");
}

/// File names that are not UTF-8 keep their bytes: each has its own fingerprint, JSON adds
/// `path_bytes` (percent-encoded) and SARIF's URI is percent-encoded from the raw bytes.
#[cfg(unix)]
#[test]
fn file_names_that_are_not_utf8_keep_their_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    for name in [&b"k\xff.py"[..], b"k\xfe.py"] {
        fs::write(
            dir.path().join(OsStr::from_bytes(name)),
            format!("t = \"{}\"\n", token()),
        )
        .unwrap();
    }
    fs::write(
        dir.path().join("plain.py"),
        format!("t = \"{}\"\n", token()),
    )
    .unwrap();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let mut found: Vec<(Option<String>, String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path_bytes"].as_str().map(String::from),
                f["path"].as_str().unwrap().to_string(),
                f["fingerprint"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(found.len(), 3, "{doc}");
    assert_eq!(found[0].0, None, "a UTF-8 name has no path_bytes");
    assert_eq!(found[0].1, "plain.py");
    assert_eq!(found[1].0.as_deref(), Some("k%FE.py"));
    assert_eq!(found[2].0.as_deref(), Some("k%FF.py"));
    assert_eq!(found[1].1, "k\u{fffd}.py");
    assert_ne!(found[1].2, found[2].2, "two files share a fingerprint");

    let out = run(dir.path(), &["scan", "--format", "jsonl", "."]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"path_bytes\":\"k%FF.py\""));
    let doc = json(&run(dir.path(), &["scan", "--format", "sarif", "."]));
    let mut uris: Vec<String> = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    uris.sort();
    assert_eq!(uris, ["k%FE.py", "k%FF.py", "plain.py"]);
}

/// The name hush 0.1 gave its temporary `--output` file: `.NAME.hush-PID.tmp`.
#[cfg(unix)]
fn planted_names(name: &str) -> Vec<String> {
    // Process ids are handed out in increasing order: the next few thousand after a child
    // just started cover the hush run that follows.
    let mut recent = std::process::Command::new("true").spawn().unwrap();
    let start = recent.id();
    recent.wait().unwrap();
    (start..start + 3000)
        .map(|pid| format!(".{name}.hush-{pid}.tmp"))
        .collect()
}

/// A file or symlink planted where the temporary report file will be created is never opened:
/// the file is created exclusively under an unpredictable name. A planted symlink cannot
/// redirect the report onto another file; a planted world-writable file cannot make a report
/// with secrets in full readable by others.
#[cfg(unix)]
#[test]
fn planted_temporary_files_and_symlinks_are_never_opened() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let dir = repo_with_secret();
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, "precious\n").unwrap();
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    for name in planted_names("report.json") {
        symlink(&victim, out_dir.join(name)).unwrap();
    }
    let out = run(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "--output",
            "out/report.json",
            "src",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    let report = fs::symlink_metadata(out_dir.join("report.json")).unwrap();
    assert!(report.file_type().is_file(), "the report is a link");
    let doc: Value =
        serde_json::from_str(&fs::read_to_string(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);

    for name in planted_names("full.txt") {
        let path = out_dir.join(name);
        fs::write(&path, "").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    }
    run(
        dir.path(),
        &["scan", "--show-secrets", "--output", "out/full.txt", "src"],
    );
    let full = out_dir.join("full.txt");
    assert!(fs::read_to_string(&full).unwrap().contains(&token()));
    let mode = fs::metadata(&full).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a planted file's mode was kept");
}

/// While a report is written, its temporary file already has its final mode (owner-only with
/// `--show-secrets`) and a name that does not follow from the process id.
#[cfg(unix)]
#[test]
fn the_temporary_report_file_is_private_and_unpredictable_while_written() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .current_dir(dir.path())
        .args(["scan", "--show-secrets", "--output", "full.txt", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    // The report file is opened before standard input is read: wait for it, boundedly.
    let mut temp = None;
    for _ in 0..500 {
        temp = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.file_name().to_string_lossy().contains("full.txt"));
        if temp.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let temp = temp.expect("no temporary report file appeared");
    let name = temp.file_name().to_string_lossy().into_owned();
    let mode = temp.metadata().unwrap().permissions().mode() & 0o777;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("t = \"{}\"\n", token()).as_bytes())
        .unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(!name.contains(&pid), "predictable name {name}");
    assert_eq!(mode, 0o600, "{name} was created {mode:o}");
    assert_eq!(status.code(), Some(1));
    let full = dir.path().join("full.txt");
    assert!(fs::read_to_string(&full).unwrap().contains(&token()));
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["full.txt"], "temporary files left behind");
}

/// A generic password assignment: found by a `low`-confidence rule only.
fn generic_password_line() -> String {
    ["db_password = \"Zq8", "vT3mWx9Lr2Kp\"\n"].concat()
}

#[test]
fn findings_carry_their_rules_confidence_and_min_confidence_keeps_the_surer() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!("TOKEN = \"{}\"\n{}", token(), generic_password_line());
    fs::write(dir.path().join("app.py"), body).unwrap();
    let levels = |args: &[&str]| -> Vec<(String, String)> {
        let doc = json(&run(dir.path(), args));
        let findings = doc["findings"].as_array().expect("findings").clone();
        findings
            .iter()
            .map(|f| {
                let rule = f["rule_id"].as_str().unwrap().to_string();
                (rule, f["confidence"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let all = levels(&["scan", "--format", "json", "."]);
    assert!(
        all.contains(&("github-pat".into(), "high".into())),
        "{all:?}"
    );
    assert!(all.iter().any(|(_, c)| c == "low"), "{all:?}");
    for args in [
        &[
            "scan",
            "--format",
            "json",
            "--min-confidence",
            "medium",
            ".",
        ][..],
        &["scan", "--format", "json", "--min-confidence", "high", "."][..],
    ] {
        assert_eq!(levels(args), [("github-pat".into(), "high".into())]);
    }
    // The config key does the same, and the flag overrides it.
    fs::write(dir.path().join(".hush.toml"), "min_confidence = \"high\"\n").unwrap();
    assert_eq!(levels(&["scan", "--format", "json", "."]).len(), 1);
    let flagged = levels(&["scan", "--format", "json", "--min-confidence", "low", "."]);
    assert_eq!(flagged.len(), all.len());
    // SARIF carries it too.
    let doc = json(&run(dir.path(), &["scan", "--format", "sarif", "."]));
    let result = &doc["runs"][0]["results"][0];
    assert_eq!(result["properties"]["confidence"], "high");
    let bad = run(dir.path(), &["scan", "--min-confidence", "sure", "."]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}

#[test]
fn sarif_columns_count_utf16_units_however_far_into_a_line() {
    let dir = tempfile::tempdir().unwrap();
    // 300 two-byte letters and one four-byte emoji (two UTF-16 units) before the token: past
    // the 240 bytes of context a finding keeps, so the column cannot come from the context.
    let line = format!("{} \u{1F511} = \"{}\"\n", "é".repeat(300), token());
    fs::write(dir.path().join("wide.txt"), &line).unwrap();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "wide.txt"]));
    let byte_column = line.find("ghp_").unwrap() + 1;
    assert_eq!(doc["findings"][0]["column"], byte_column);
    let doc = json(&run(dir.path(), &["scan", "--format", "sarif", "wide.txt"]));
    let region = &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    let units = line[..byte_column - 1].encode_utf16().count() + 1;
    assert_eq!(units, 300 + 1 + 2 + 4 + 1);
    assert_eq!(region["startColumn"], units);
}

#[test]
fn an_encrypted_private_key_is_reported_with_less_confidence_than_a_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let body = "MIIFHzBJBgkqhkiG9w0BBQ0wPDAbBgkqhkiG9w0BBQwwDgQIvQ1cZ3pW7T8CAggA\n\
                MB0GCWCGSAFlAwQBKgQQk2Jp3X8mN4vL6qR1sT9wYgSCBNB7x2Kq9pLm3vN8rT5w\n";
    let pem = |kind: &str| format!("-----BEGIN {kind}-----\n{body}-----END {kind}-----\n");
    fs::write(dir.path().join("enc.pem"), pem("ENCRYPTED PRIVATE KEY")).unwrap();
    fs::write(dir.path().join("plain.pem"), pem("PRIVATE KEY")).unwrap();
    let doc = json(&run(dir.path(), &["scan", "--format", "json", "."]));
    let confidence = |path: &str| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["path"] == path && f["column"].is_number())
            .map(|f| f["confidence"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(confidence("enc.pem"), ["medium"], "{doc}");
    assert_eq!(confidence("plain.pem"), ["high"], "{doc}");
}

/// Base64 of `bytes` (standard alphabet, padded): test inputs only.
fn b64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            let c = if i <= chunk.len() {
                ABC[(n >> (18 - 6 * i)) as usize & 63]
            } else {
                b'='
            };
            out.push(char::from(c));
        }
    }
    out
}

/// Findings of `hush scan --format json` on `dir`, and the raw report (to search for leaks).
fn scan_json(dir: &Path) -> (Vec<Value>, String) {
    let out = run(dir, &["scan", "--format", "json", "."]);
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        json(&out)["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        raw,
    )
}

#[test]
fn a_token_in_a_kubernetes_secret_is_found_decoded_where_it_is_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let encoded = b64(token().as_bytes());
    let manifest = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ci\ndata:\n  GITHUB_TOKEN: {encoded}\n"
    );
    fs::write(dir.path().join("secret.yaml"), &manifest).unwrap();
    let (findings, raw) = scan_json(dir.path());
    // One finding: the generic `token: value` rule that matched the encoded text stands aside
    // for the surer rule that matched it decoded.
    assert_eq!(findings.len(), 1, "{raw}");
    let f = &findings[0];
    assert_eq!(f["rule_id"], "github-pat");
    assert_eq!(f["decoded"], "base64");
    assert_eq!(f["line"], 6);
    assert_eq!(f["column"], 17);
    assert_eq!(f["secret"], "ghp_…");
    assert!(!raw.contains(&token()) && !raw.contains(&encoded), "{raw}");
    // Shown to people, the encoded text is masked on its line like any secret.
    let human = text(&run(dir.path(), &["scan", "--no-color", "."]));
    assert!(human.contains("(decoded: base64)"), "{human}");
    assert!(!human.contains(&encoded[..12]), "{human}");
    // An allow comment on the line allows it, as for a secret written plainly.
    fs::write(
        dir.path().join("secret.yaml"),
        manifest.replace(&encoded, &format!("{encoded} # hush:allow")),
    )
    .unwrap();
    assert!(scan_json(dir.path()).0.is_empty());
}

#[test]
fn nested_percent_hex_and_escaped_encodings_are_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let t = token();
    // .dockerconfigjson: base64 of JSON whose `auth` is base64 again.
    let inner = format!(
        "{{\"auths\":{{\"r.example\":{{\"auth\":\"{}\"}}}}}}",
        b64(t.as_bytes())
    );
    fs::write(
        dir.path().join("pull.yaml"),
        format!("data:\n  .dockerconfigjson: {}\n", b64(inner.as_bytes())),
    )
    .unwrap();
    let pct = t.replacen('_', "%5F", 1);
    fs::write(
        dir.path().join("url.txt"),
        format!("https://ci.example/hook?token={pct}&note=a%20b\n"),
    )
    .unwrap();
    let hex: String = t.bytes().map(|b| format!("{b:02x}")).collect();
    fs::write(dir.path().join("hex.txt"), format!("blob = {hex}\n")).unwrap();
    let escaped = t.replacen('_', "\\u005f", 1);
    fs::write(
        dir.path().join("esc.json"),
        format!("{{\"note\": \"line one\\nline two {escaped}\"}}\n"),
    )
    .unwrap();
    let (findings, raw) = scan_json(dir.path());
    let chain = |path: &str| {
        findings
            .iter()
            .filter(|f| f["path"] == path && f["rule_id"] == "github-pat")
            .map(|f| f["decoded"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(chain("pull.yaml"), ["base64>base64"], "{raw}");
    assert_eq!(chain("url.txt"), ["percent"], "{raw}");
    assert_eq!(chain("hex.txt"), ["hex"], "{raw}");
    assert_eq!(chain("esc.json"), ["escapes"], "{raw}");
    assert!(!raw.contains(&t) && !raw.contains(&hex), "{raw}");
}

/// A token glued to the one escape before it (`token%3Dghp_…`) has no word boundary as written,
/// so only decoding finds it, even with a single escape in the URL.
#[test]
fn a_token_after_a_single_percent_escape_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let t = token();
    fs::write(
        dir.path().join("access.log"),
        format!("GET /cb?state=token%3D{t} HTTP/1.1\nGET /x?q=%22{t} HTTP/1.1\n"),
    )
    .unwrap();
    let (findings, raw) = scan_json(dir.path());
    let lines: Vec<u64> = findings
        .iter()
        .filter(|f| f["rule_id"] == "github-pat" && f["decoded"] == "percent")
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [1, 2], "{raw}");
    assert!(!raw.contains(&t), "{raw}");
}

#[test]
fn a_secret_found_as_written_is_not_reported_again_decoded() {
    let dir = tempfile::tempdir().unwrap();
    // Plain text that also happens to be valid base64 of nothing: one finding, not two.
    fs::write(
        dir.path().join("a.py"),
        format!("TOKEN = \"{}\"\n", token()),
    )
    .unwrap();
    let (findings, raw) = scan_json(dir.path());
    assert_eq!(findings.len(), 1, "{raw}");
    assert!(findings[0].get("decoded").is_none(), "{raw}");
}

/// Key-shaped base64 (a fixed pseudo-random sequence), `lines` lines of 64 characters.
fn key_body(lines: usize) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = String::from("MIIEpAIBAAKCAQEA");
    while out.len() < lines * 64 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        out.push(char::from(ABC[(state >> 58) as usize]));
    }
    out.as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn key_material_is_found_in_the_forms_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let pem = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        key_body(8)
    );
    // Base64 of the whole PEM (LS0tLS1CRUdJTi...), as a Kubernetes Secret holds a TLS key.
    fs::write(
        dir.path().join("tls.yaml"),
        format!("data:\n  tls.key: {}\n", b64(pem.as_bytes())),
    )
    .unwrap();
    // In a JSON string, newlines escaped.
    fs::write(
        dir.path().join("sa.json"),
        format!("{{\"private_key\": \"{}\"}}\n", pem.replace('\n', "\\n")),
    )
    .unwrap();
    // Behind a comment's ` * ` on every line.
    let commented: String = pem.lines().map(|l| format!(" * {l}\n")).collect();
    fs::write(dir.path().join("key.c"), format!("/*\n{commented} */\n")).unwrap();
    let (findings, raw) = scan_json(dir.path());
    let rules = |path: &str| {
        findings
            .iter()
            .filter(|f| f["path"] == path)
            .map(|f| {
                let decoded = f["decoded"].as_str().unwrap_or("-");
                format!("{} {decoded}", f["rule_id"].as_str().unwrap())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(rules("tls.yaml"), ["private-key-rsa base64"], "{raw}");
    assert_eq!(rules("sa.json"), ["private-key-rsa -"], "{raw}");
    assert_eq!(rules("key.c"), ["private-key-rsa -"], "{raw}");
    assert!(!raw.contains(&key_body(8)[..40]), "{raw}");
}

#[test]
fn a_decoded_secret_in_utf16_text_is_reported_at_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("data:\r\n  GITHUB_TOKEN: {}\r\n", b64(token().as_bytes()));
    let bytes: Vec<u8> = [0xfeffu16]
        .into_iter()
        .chain(text.encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect();
    fs::write(dir.path().join("secret.yaml"), bytes).unwrap();
    let (findings, raw) = scan_json(dir.path());
    assert_eq!(findings.len(), 1, "{raw}");
    assert_eq!(findings[0]["decoded"], "base64");
    assert_eq!(findings[0]["line"], 2);
    // The 17th character of its line: 16 UTF-16 units, 32 bytes, before it.
    assert_eq!(findings[0]["column"], 33, "{raw}");
}
