//! The usual suspects of secret scanners: material that looks random but is not a credential.
//! Each case must produce no finding from the built-in rules.

use hush::rules::RuleSet;
use hush::scan::Scanner;

fn assert_clean(label: &str, text: &str) {
    let scanner = Scanner::new(&RuleSet::defaults().expect("rules")).expect("scanner");
    let found: Vec<String> = scanner
        .scan(text.as_bytes())
        .iter()
        .map(|m| format!("{} at line {}", scanner.rule(m.rule).id, m.line))
        .collect();
    assert!(found.is_empty(), "{label}: unexpected findings: {found:?}");
}

#[test]
fn lockfile_hashes_and_integrity_strings() {
    assert_clean(
        "package-lock.json",
        r#"    "node_modules/lodash": {
      "version": "4.17.21",
      "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",
      "integrity": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg=="
    },"#,
    );
    assert_clean(
        "yarn.lock",
        r#"lodash@^4.17.21:
  version "4.17.21"
  resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#679591c564c3bffaae8454cf0b3df370c3d6911c"
  integrity sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg=="#,
    );
    assert_clean(
        "go.sum",
        "github.com/pkg/errors v0.9.1 h1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=\n\
         github.com/pkg/errors v0.9.1/go.mod h1:bwawxfHBFNV+L2hUp1rHADufV3IMtnDRdf1r5NINEl0=\n",
    );
    assert_clean(
        "Cargo.lock",
        "[[package]]\nname = \"aho-corasick\"\nversion = \"1.1.3\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"8e60d3430d3a69478ad0993f19238d2df97c507009a52b3c10addcd7f6bcb916\"\n",
    );
    assert_clean(
        "poetry.lock",
        r#"files = [
    {file = "requests-2.31.0-py3-none-any.whl", hash = "sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f"},
]"#,
    );
}

#[test]
fn git_shas_and_uuids() {
    assert_clean(
        "git sha",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8\nrev = \"9fceb02d0ae598e95dc970b74767f19372d61af8\"\nMerge: 1a2b3c4d 5e6f7a8b\n",
    );
    assert_clean(
        "uuid",
        "id = \"123e4567-e89b-12d3-a456-426614174000\"\n\"request_id\": \"f47ac10b-58cc-4372-a567-0e02b2c3d479\"\n",
    );
}

#[test]
fn base64_data_uris() {
    assert_clean(
        "data uri",
        r#"<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==">
background: url(data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAxNiAxNiI+PC9zdmc+);"#,
    );
}

#[test]
fn public_keys_and_certificates() {
    assert_clean(
        "public key",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n-----END PUBLIC KEY-----\n",
    );
    assert_clean(
        "ssh public key",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl dev@laptop\n",
    );
    assert_clean(
        "certificate",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\nRTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYD\n-----END CERTIFICATE-----\n",
    );
}

#[test]
fn environment_variable_references() {
    assert_clean(
        "references",
        r#"password = "${DB_PASSWORD}"
api_key = os.environ["OPENAI_API_KEY"]
token = os.getenv("GITHUB_TOKEN")
        token: ${{ secrets.GITHUB_TOKEN }}
const secret = process.env.STRIPE_SECRET_KEY;
export AWS_SECRET_ACCESS_KEY=$AWS_SECRET
client_secret: "{{ vault_client_secret }}"
"#,
    );
}

#[test]
fn template_placeholders() {
    assert_clean(
        "placeholders",
        r#"api_key = "<your-key>"
token = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
secret: your-token-here
GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
password = "changeme"
"Authorization: Bearer <token>"
"#,
    );
}

#[test]
fn aws_documentation_example_keys() {
    assert_clean(
        "aws docs",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    );
}

#[test]
fn a_github_token_with_a_bad_checksum_is_not_reported() {
    // Valid shape, last character altered: the CRC32 no longer matches.
    assert_clean(
        "bad checksum",
        "token = \"ghp_UU2h7RsOIv020XEpWXEhWi955aBVsI0j08yT\"\n",
    );
}

/// Found by scanning real trees (the Python standard library, AWS CLI examples, crates.io
/// sources) and reading every finding.
#[test]
fn real_world_false_positives_stay_fixed() {
    assert_clean(
        "secrets manager ARN",
        "\"ARN\": \"arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestDatabaseSecret-a1b2c3\",\n",
    );
    assert_clean(
        "idempotency token",
        "\"ClientToken\": \"4752b573-40a6-4eac-a8a4-a72058761219\"\n",
    );
    assert_clean(
        "documentation passphrase",
        "\"passphrase\": \"AB1C2defGHijkLMNo3PqQRstUvwxyzaBCDEfghh4ijklMN5opqrStuVWxyzAbCDEfghIJ\"\n\"token\": \"abcd1234defg5678\"\n",
    );
    assert_clean(
        "url parser tests",
        "ParsedUrl::parse(\"http://user:pass%20word@example.com/path\")\nParsedUrl::parse(\"http://user:p%40ss%3Aword@example.com/path\")\n",
    );
    assert_clean(
        "generated doc password",
        "\"Password\": \"generatedwebdavpassword1\",\n",
    );
}
