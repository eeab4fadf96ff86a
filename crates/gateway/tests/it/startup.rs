//! Starting the binary: missing secrets stop it at once, naming the variable.

use std::process::Command;

#[test]
fn the_binary_exits_naming_a_missing_verify_token_and_never_prints_the_secret() {
    let output = Command::new(env!("CARGO_BIN_EXE_inlet-gateway"))
        .env_clear()
        .env("INLET_META_APP_SECRET", "super-secret-value-123")
        .env("INLET_GATEWAY_ADDR", "127.0.0.1:0")
        .output()
        .expect("binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stderr.contains("INLET_META_VERIFY_TOKEN"),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("super-secret-value-123"));
    assert!(!stdout.contains("super-secret-value-123"));
}
