/* flowgrind's summary line; see summary.h. The grammar is spec §7.3, part by part. */

#include "flowgrind/summary.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "core/report.h"

const char *fg_summary_topology(int mtu)
{
    static const struct {
        int mtu;
        const char *name;
    } known[] = {
        {65535, "Hyperchannel"},
        {17914, "16 MB/s Token Ring"},
        {16436, "Linux Loopback device"},
        {16384, "FreeBSD Loopback device"},
        {16352, "Darwin Loopback device"},
        {9000, "Gigabit Ethernet (Jumboframes)"},
        {8166, "802.4 Token Bus"},
        {4464, "4 MB/s Token Ring"},
        {4352, "FDDI"},
        {1500, "Ethernet/PPP"},
        {1492, "PPPoE"},
        {1472, "IP-in-IP"},
        {1280, "IPv6 Tunnel"},
        {1006, "SLIP"},
        {576, "X.25 & ISDN"},
        {296, "PPP (low delay)"},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (known[i].mtu == mtu)
            return known[i].name;
    return "unknown";
}

/* count per second over d seconds; 0 or inf for a span of no length, never NaN */
static double per_second(double count, double d)
{
    if (d > 0)
        return count / d;
    return count > 0 ? INFINITY : 0.0;
}

static bool has_samples(const struct fg_table_stat *st)
{
    return st->samples > 0 && st->min_s < FLT_MAX;
}

static void print_stat(FILE *out, const char *name, const struct fg_table_stat *st)
{
    report_printf(out, ", %s = %.3f/%.3f/%.3f [ms] (min/avg/max)", name, st->min_s * 1e3,
                  st->sum_s / (double)st->samples * 1e3, st->max_s * 1e3);
}

static void print_where(const struct fg_summary *s, FILE *out)
{
    fputs(s->test_address ? s->test_address : "", out);
    if (s->control_address && s->test_address && strcmp(s->control_address, s->test_address))
        fprintf(out, "/%s", s->control_address);
    if (s->control_port != FG_SUMMARY_DEFAULT_PORT)
        fprintf(out, ":%d", s->control_port);
    fprintf(out, " (%s %s), ", s->os_name ? s->os_name : "", s->os_release ? s->os_release : "");
}

static void print_setup(const struct fg_summary *s, FILE *out)
{
    fprintf(out, "random seed: %" PRIu32 ", ", s->random_seed);
    fprintf(out, "sbuf = %d/%d [B] (real/req), rbuf = %d/%d [B] (real/req), ", s->sbuf_real,
            s->sbuf_req, s->rbuf_real, s->rbuf_req);
    if (s->smss > 0)
        fprintf(out, "SMSS = %d [B], ", s->smss);
    if (s->pmtu > 0)
        fprintf(out, "PMTU = %d [B], ", s->pmtu);
    if (s->imtu > 0)
        fprintf(out, "Interface MTU = %d (%s) [B], ", s->imtu, fg_summary_topology(s->imtu));
    if (s->cc)
        fprintf(out, "CC = %s, ", s->cc);
}

/* duration, delays, through, transactions: real times as §7.3 defines them */
static void print_rates(const struct fg_summary *s, FILE *out)
{
    double real_write = s->write_duration_s != 0 ? s->report_time_s - s->write_delay_s : 0;
    double real_read = s->read_duration_s != 0 ? s->report_time_s - s->read_delay_s : 0;
    double span = real_write > real_read ? real_write : real_read;

    if (s->write_duration_s != 0)
        report_printf(out, "duration = %.3f/%.3f [s] (real/req), ", real_write,
                      s->write_duration_s);
    if (s->write_delay_s != 0)
        report_printf(out, "write delay = %.3f [s], ", s->write_delay_s);
    if (s->read_delay_s != 0)
        report_printf(out, "read delay = %.3f [s], ", s->read_delay_s);

    double scale = s->mib ? 1.0 / 1048576.0 : 8.0 / 1e6;
    report_printf(out, "through = %.6f/%.6f %s (out/in)",
                  per_second((double)s->bytes_written, span) * scale,
                  per_second((double)s->bytes_read, span) * scale, s->mib ? "[MiB/s]" : "[Mbit/s]");
    double transactions = per_second((double)s->response_blocks_read, span);
    if (transactions != 0)
        report_printf(out, ", transactions/s = %.2f [#]", transactions);
}

static void print_blocks(const struct fg_summary *s, FILE *out)
{
    if (s->request_blocks_written || s->request_blocks_read)
        fprintf(out, ", request blocks = %" PRIu64 "/%" PRIu64 " [#] (out/in)",
                s->request_blocks_written, s->request_blocks_read);
    if (s->response_blocks_written || s->response_blocks_read)
        fprintf(out, ", response blocks = %" PRIu64 "/%" PRIu64 " [#] (out/in)",
                s->response_blocks_written, s->response_blocks_read);
    if (s->response_blocks_read && has_samples(&s->rtt))
        print_stat(out, "RTT", &s->rtt);
    if (s->request_blocks_read && has_samples(&s->iat))
        print_stat(out, "IAT", &s->iat);
    if (s->request_blocks_read && has_samples(&s->delay))
        print_stat(out, "delay", &s->delay);
}

static void print_flags(const struct fg_summary *s, FILE *out)
{
    if (s->rate)
        fprintf(out, ", rate = %s", s->rate);
    if (s->elcn)
        fputs(", ELCN", out);
    if (s->cork)
        fputs(", TCP_CORK", out);
    if (s->pushy)
        fputs(", PUSHY", out);
    if (s->nodelay)
        fputs(", TCP_NODELAY", out);
    if (s->mtcp)
        fputs(", TCP_MTCP", out);
    if (s->dscp)
        fprintf(out, ", dscp = 0x%02x", (unsigned)s->dscp);
    if (s->late_connect)
        fputs(", late connecting", out);
    if (s->shutdown)
        fputs(", calling shutdown", out);
}

int fg_summary_print(const struct fg_summary *s, FILE *out)
{
    fprintf(out, "# ID %3d %c: ", s->flow_id, s->source ? 'S' : 'D');
    if (!s->have_final) {
        fputs("Error: no final report received\n", out);
        return ferror(out) ? -EIO : 0;
    }
    print_where(s, out);
    print_setup(s, out);
    print_rates(s, out);
    print_blocks(s, out);
    print_flags(s, out);
    fputc('\n', out);
    return ferror(out) ? -EIO : 0;
}
