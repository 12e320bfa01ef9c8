"""Reads `perf script -F comm,ip,sym` from stdin (bench/profile.sh) and says where the server's
time went: each sample is charged to the first frame, from the innermost out, that belongs to a
known part of the stack (a crate group, the kernel, or Gatehouse itself). Frames of the
allocator, memcpy and the standard library are passed over and charged to whoever called them,
and their own share is printed separately. Async stacks are deep and perf keeps only their
innermost 16 KB, so this innermost-owner view is the one that stays reliable."""

import re
import sys
from collections import Counter

GROUPS = [
    ("Leptos: reactive graph (owners, signals, memos, cleanup)", ["reactive_graph"]),
    ("Leptos: HTML rendering (tachys, leptos, router, meta)",
     ["tachys", "leptos", "leptos_router", "leptos_meta", "leptos_axum", "leptos_integration_utils",
      "server_fn", "or_poisoned", "throw_error", "any_spawner"]),
    ("HTTP/1 connection handling (hyper, httparse, http)",
     ["hyper", "hyper_util", "httparse", "http", "http_body", "http_body_util", "bytes"]),
    ("routing and tower middleware (axum, tower, tower-http, tower-cookies)",
     ["axum", "axum_core", "tower", "tower_http", "tower_cookies", "tower_layer", "matchit", "cookie"]),
    ("Gatehouse's own code (middleware, session check, pages)", ["gatehouse"]),
    ("JWT and hashing (jsonwebtoken, sha2, hmac, argon2)",
     ["jsonwebtoken", "sha2", "hmac", "argon2", "blake2", "base64", "digest"]),
    ("SQLite (sqlx, libsqlite3)", ["sqlx_core", "sqlx_sqlite", "libsqlite3_sys", "flume"]),
    ("JSON and URL encoding (serde)", ["serde", "serde_json", "serde_urlencoded", "serde_qs", "form_urlencoded"]),
    ("logging and metrics (tracing)", ["tracing", "tracing_core", "tracing_subscriber"]),
    ("async runtime (tokio)", ["tokio", "futures_util", "futures_core", "futures_channel", "parking_lot", "parking_lot_core"]),
]
PASSED_OVER = re.compile(
    r"^(_?mi_|__rust_|__rdl_|__memmove|__memcpy|__memset|__memcmp|malloc|free|realloc|calloc|cfree"
    r"|_int_|core::|alloc::|std::|<alloc::|<core::|<std::|__GI_|syscall$|\[unknown\]$)"
)
ALLOCATOR = re.compile(r"^(_?mi_|__rust_alloc|__rust_dealloc|__rdl_|__memmove|__memcpy|__memset|malloc|free|realloc|cfree)")
CRATE = re.compile(r"([a-z_][a-z0-9_]*)::")
BY_CRATE = {crate: label for label, crates in GROUPS for crate in crates}


def samples(lines):
    sample = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if sample:
                yield sample
            sample = []
        else:
            sample.append(line)
    if sample:
        yield sample


def owner(comm, symbols):
    if comm.startswith("gatehouse-hash"):
        return "hashing threads (argon2, lowest priority)"
    if comm.startswith("sqlx-sqlite"):
        return "SQLite (sqlx, libsqlite3)"
    for symbol in symbols:
        if symbol.endswith("_[k]") or symbol.startswith("[k]"):
            return "kernel (network stack, scheduling, page faults)"
        if PASSED_OVER.match(symbol):
            for crate in CRATE.findall(symbol):
                if crate in BY_CRATE:
                    return BY_CRATE[crate]
            continue
        for crate in CRATE.findall(symbol):
            if crate in BY_CRATE:
                return BY_CRATE[crate]
        return "other"
    return "other"


def main():
    total = 0
    charged = Counter()
    allocator = 0
    for sample in samples(sys.stdin):
        header, frames = sample[0], sample[1:]
        comm = header.strip().split(" ")[0]
        symbols = []
        for frame in frames:
            parts = frame.strip().split(" ", 1)
            symbol = parts[1] if len(parts) > 1 else ""
            # perf marks kernel frames by their address range; they read as kernel symbols.
            if parts[0].startswith("ffffffff"):
                symbol += "_[k]"
            symbols.append(symbol)
        total += 1
        charged[owner(comm, symbols)] += 1
        if symbols and ALLOCATOR.match(symbols[0]):
            allocator += 1
    print(f"{total} samples; each charged to the innermost part of the stack it ran in:")
    for label, n in charged.most_common():
        print(f"{100.0 * n / max(total, 1):5.1f} %  {label}")
    print(f"(of all samples, {100.0 * allocator / max(total, 1):.1f} % were in the allocator or memcpy itself)")


if __name__ == "__main__":
    main()
