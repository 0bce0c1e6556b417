/* The controller's text sinks: stdout and the log file, fed by one stream. See ctl.h.
 *
 * The table and summary formatters write to one FILE *. To send the same bytes to stdout
 * and the log file, that FILE is a cookie stream whose write function copies every chunk
 * to each sink — the text is formatted once, so both get the same, correct text (0.8.2
 * formatted it twice from one va_list and garbled the file, its bug 6). */

#include "flowgrind/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tee {
    FILE *sink[2];
};

static ssize_t tee_write(void *cookie, const char *buf, size_t size)
{
    struct tee *t = cookie;
    for (int i = 0; i < 2; i++)
        if (t->sink[i] && fwrite(buf, 1, size, t->sink[i]) != size)
            return -1;
    return (ssize_t)size;
}

static int tee_close(void *cookie)
{
    free(cookie);
    return 0;
}

void ctl_default_log_name(const char *progname, time_t now, char *buf, size_t len)
{
    struct tm tm;
    char stamp[64];
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d-%H:%M:%S", &tm);
    snprintf(buf, len, "%s-%s.log", progname && progname[0] ? progname : "flowgrind", stamp);
}

static FILE *open_log(const char *path, bool overwrite, char *err, size_t errlen)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            snprintf(err, errlen, "log file exists");
        else
            snprintf(err, errlen, "cannot create log file '%s': %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, errlen, "cannot open log file '%s': %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

int ctl_out_open(struct ctl_out *out, const struct fg_opts *o, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->to_stdout = !o->quiet && !o->json;
    if (o->log_to_file) {
        if (o->log_file[0])
            snprintf(out->log_path, sizeof(out->log_path), "%s", o->log_file);
        else
            ctl_default_log_name(o->progname, time(NULL), out->log_path, sizeof(out->log_path));
        out->log = open_log(out->log_path, o->overwrite, err, errlen);
        if (!out->log)
            return -1;
    }
    struct tee *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    t->sink[0] = out->to_stdout ? stdout : NULL;
    t->sink[1] = out->log;
    cookie_io_functions_t io = {.read = NULL, .write = tee_write, .seek = NULL, .close = tee_close};
    out->text = fopencookie(t, "w", io);
    if (!out->text) {
        free(t);
        snprintf(err, errlen, "cannot set up the output: %s", strerror(errno));
        goto fail;
    }
    return 0;
fail:
    if (out->log)
        fclose(out->log);
    out->log = NULL;
    return -1;
}

void ctl_out_flush(struct ctl_out *out)
{
    if (out->text)
        fflush(out->text);
    if (out->to_stdout)
        fflush(stdout);
    if (out->log)
        fflush(out->log);
}

void ctl_out_close(struct ctl_out *out)
{
    if (out->text)
        fclose(out->text); /* flushes into the sinks */
    out->text = NULL;
    if (out->to_stdout)
        fflush(stdout);
    if (out->log)
        fclose(out->log);
    out->log = NULL;
}
