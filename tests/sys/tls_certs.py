"""Throwaway TLS certificates for system tests (tcpkali --ssl, --ssl-cert, --ssl-key).

    cert, key = tls_certs.cert_pair()          # one shared pair per test process
    cert, key = tls_certs.make_pair(kind="rsa") # a fresh pair in its own directory

Each pair is a self-signed certificate for CN=localhost (subjectAltName DNS:localhost and
IP:127.0.0.1), valid for one day, with an unencrypted private key, both PEM, made with the
openssl binary (Debian package `openssl`) in a temporary directory removed when the process
exits. Without the openssl binary the calling test is skipped (harness.Skip).
"""

import atexit
import os
import shutil
import subprocess
import tempfile

_KEY_ARGS = {
    "ec": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
    "rsa": ["-newkey", "rsa:2048"],
}

_shared = None


def _skip(why):
    try:
        from harness import Skip
    except ImportError:  # used outside the harness
        raise RuntimeError(why)
    raise Skip(why)


def make_pair(kind="ec", cn="localhost", directory=None):
    """Makes a self-signed certificate and its key; returns (cert_path, key_path).

    kind is "ec" (P-256, fast) or "rsa" (2048 bits). directory defaults to a new temporary
    directory, removed at exit; a given directory is left to its owner."""
    if kind not in _KEY_ARGS:
        raise ValueError(f"kind must be one of {sorted(_KEY_ARGS)}, not {kind!r}")
    openssl = shutil.which("openssl")
    if openssl is None:
        _skip("no openssl binary (Debian package openssl)")
    if directory is None:
        directory = tempfile.mkdtemp(prefix="netgrind-tls-")
        atexit.register(shutil.rmtree, directory, True)
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    cmd = [openssl, "req", "-x509", *_KEY_ARGS[kind], "-nodes", "-subj", f"/CN={cn}",
           "-addext", f"subjectAltName=DNS:{cn},IP:127.0.0.1", "-days", "1",
           "-keyout", key, "-out", cert]
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    if r.returncode != 0 or not os.path.exists(cert) or not os.path.exists(key):
        raise AssertionError("openssl req failed (exit %d): %s"
                             % (r.returncode, r.stderr.decode(errors="replace")[-1000:]))
    return cert, key


def cert_pair():
    """The process's shared (cert_path, key_path), made on first use (EC, CN=localhost)."""
    global _shared
    if _shared is None or not all(os.path.exists(p) for p in _shared):
        _shared = make_pair()
    return _shared


if __name__ == "__main__":
    # Self-check: both kinds load, the certificate is self-signed for localhost and the key
    # matches it (openssl's own checks).
    for k in ("ec", "rsa"):
        c, p = make_pair(kind=k)
        subj = subprocess.run(["openssl", "x509", "-in", c, "-noout", "-subject", "-issuer"],
                              capture_output=True, text=True, check=True).stdout
        assert "CN = localhost" in subj and subj.count("CN = localhost") == 2, subj
        pub_c = subprocess.run(["openssl", "x509", "-in", c, "-noout", "-pubkey"],
                               capture_output=True, text=True, check=True).stdout
        pub_k = subprocess.run(["openssl", "pkey", "-in", p, "-pubout"],
                               capture_output=True, text=True, check=True).stdout
        assert pub_c == pub_k, "key does not match certificate"
        print(f"{k}: {c} {p} ok")
    assert cert_pair() == cert_pair()
    print("cert_pair cached ok")
