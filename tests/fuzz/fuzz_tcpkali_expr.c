/* libFuzzer target: tcpkali's message expression parser on untrusted bytes.
 *
 * Input layout: byte 0 bit 0 = apply -e to literal text; the rest is the message argument.
 * The parse must succeed or fail cleanly (never crash, never leak), and a success must be
 * coherent: min_len <= max_len, no empty or unmerged constant pieces, a regex on each re
 * piece, the marker count and the scope as the pieces say.
 *
 * File pieces (`\{<name>}`) must not read the machine's files: each parse runs in a fresh
 * empty directory (made and removed at start-up, so nothing can be created in it), and every
 * '/' of the input becomes '_', so a file name can only name an entry of that empty
 * directory ("." and ".." are directories: "Can't read"). The target moves back to the
 * original working directory after each parse, because libFuzzer reads and writes its
 * corpus and artifacts by relative paths. */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "tcpkali/expr.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static int empty_dir_fd = -1, home_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/netgrind_fuzz_expr_XXXXXX";
    if (!mkdtemp(dir) || (empty_dir_fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0 ||
        (home_fd = open(".", O_RDONLY | O_DIRECTORY)) < 0) {
        perror("fuzz_tcpkali_expr: empty working directory");
        abort();
    }
    rmdir(dir); /* still usable through its fd, and nothing can be created in it */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool unescape = data[0] & 1;
    size_t n = size - 1;
    char *text = malloc(n ? n : 1);
    if (!text)
        return 0;
    for (size_t i = 0; i < n; i++)
        text[i] = data[i + 1] == '/' ? '_' : (char)data[i + 1];

    struct rng rng;
    struct tk_expr e;
    char err[512];
    rng_seed(&rng, 1);
    if (fchdir(empty_dir_fd) != 0)
        abort();
    int rc = tk_expr_parse(text, n, unescape, &rng, &e, err, sizeof err);
    if (fchdir(home_fd) != 0)
        abort();
    if (rc == 0) {
        size_t markers = 0;
        enum tk_expr_scope scope = TK_SCOPE_CONSTANT;
        if (e.min_len > e.max_len)
            abort();
        for (size_t i = 0; i < e.n; i++) {
            const struct tk_piece *pc = &e.v[i];
            if (pc->kind == TK_PC_BYTES && pc->len == 0)
                abort();
            if (pc->kind == TK_PC_BYTES && i > 0 && e.v[i - 1].kind == TK_PC_BYTES &&
                e.v[i - 1].raw == pc->raw)
                abort();
            if ((pc->kind == TK_PC_RE || pc->kind == TK_PC_CONN_RE) != (pc->re != NULL))
                abort();
            if (pc->kind == TK_PC_MARKER)
                markers++;
            if (pc->kind == TK_PC_RE || pc->kind == TK_PC_MARKER)
                scope = TK_SCOPE_MESSAGE;
            else if (scope == TK_SCOPE_CONSTANT &&
                     (pc->kind == TK_PC_CONN_UID || pc->kind == TK_PC_CONN_PTR ||
                      pc->kind == TK_PC_CONN_RE))
                scope = TK_SCOPE_CONNECTION;
        }
        if (markers != e.nmarkers || scope != e.scope)
            abort();
        tk_expr_free(&e);
    } else if (err[0] == '\0') {
        abort(); /* every failure says why */
    }
    free(text);
    return 0;
}
