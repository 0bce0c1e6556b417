# flowgrind-plot.gp -- plot throughput, RTT (TCP_INFO rtt) and cwnd over time from a
# flowgrind log file (netgrind's or flowgrind 0.8.2's text output: the interval table).
#
# Usage:
#   flowgrind -w ... -H ...            (or: flowgrind ... > run.log)
#   gnuplot -e "logfile='flowgrind-2026-11-23-06:09:41.log'" contrib/flowgrind-plot.gp
#
# Optional variables (each another -e before the script):
#   out='plot.png'     output file (default: the log file's name + ".png")
#   endpoint='D'       whose rows to plot: 'S' (source, the default) or 'D' (destination)
#   term='svg size 1000,900'   any gnuplot terminal (default: pngcairo size 1000,900)
#
# One line per flow id. Time is the `end` column (seconds since the endpoint's first
# report); throughput the `through` column in the log's own unit (Mbit/s, or MiB/s with
# -m); RTT the kernel's smoothed RTT (`rtt` column, ms); cwnd in segments (or bytes, see
# the column header). Columns are found by their names in the table header, so logs
# written with -c, -A or -I work too; a column the log lacks gives an empty panel with a
# note.
# Needs awk, sort and tr besides gnuplot.

if (!exists("logfile")) {
    print "usage: gnuplot -e \"logfile='FILE'\" [-e \"out='PLOT.png'\"] [-e \"endpoint='D'\"] flowgrind-plot.gp"
    exit
}
if (!exists("out")) out = logfile . ".png"
if (!exists("endpoint")) endpoint = "S"
if (!exists("term")) term = "pngcairo size 1000,900"

# Normalises the table rows of endpoint ep and flow id into "end through rtt cwnd".
# A header line names the columns; "min IAT", "avg RTT", "ca state" ... are one column
# each. Summary lines ("# ID   0 S: ...") are not headers.
AWKPROG = '/^# ID/ && $4 !~ /^[SD]:$/ { delete col; n = 0; \
    for (i = 3; i <= NF; i++) { name = $i; \
        if ((name == "min" || name == "avg" || name == "max" || name == "ca") && i < NF) { i++; name = name "_" $i } \
        n++; col[name] = n + 2 } \
    next } \
$1 == ep && $2 == id && ("end" in col) { \
    print $(col["end"]), ("through" in col) ? $(col["through"]) : "NaN", \
        ("rtt" in col) ? $(col["rtt"]) : "NaN", ("cwnd" in col) ? $(col["cwnd"]) : "NaN" }'

rows(id) = sprintf("< awk -v ep=%s -v id=%s '%s' '%s'", endpoint, id, AWKPROG, logfile)

flows = system(sprintf("awk '$1 == \"%s\" && $2 ~ /^[0-9]+$/ { print $2 }' '%s' | sort -n -u | tr '\\n' ' '", endpoint, logfile))
if (strlen(flows) == 0) {
    print sprintf("no %s rows in %s (a run with -Q has no interval table)", endpoint, logfile)
    exit
}
# 1 when a table header of the log names column c.
has(c) = int(system(sprintf("awk -v c='%s' '/^# ID/ && $4 !~ /^[SD]:$/ { for (i = 3; i <= NF; i++) if ($i == c) f = 1 } END { print f + 0 }' '%s'", c, logfile)))
unit = system(sprintf("grep -q '2\\*\\*20 bytes/second' '%s' && echo MiB/s || echo Mbit/s", logfile))

set macros
set terminal @term
set output out
set datafile missing "NaN"
set key outside right top
set grid
set xlabel "time [s]"

set multiplot layout 3,1 title sprintf("flowgrind %s endpoints: %s", endpoint, logfile) noenhanced
# A panel whose column the log lacks (-c without it) is drawn empty with a note: gnuplot
# would stop at a plot without a single valid point.
array names[3] = ["through", "rtt", "cwnd"]
array labels[3] = [sprintf("throughput [%s]", unit), "RTT (tcpi) [ms]", "cwnd"]
do for [panel = 1:3] {
    set ylabel labels[panel]
    if (has(names[panel])) {
        plot for [f in flows] rows(f) using 1:panel + 1 with lines title sprintf("%s %s", endpoint, f)
    } else {
        set label 1 sprintf("the log has no %s column", names[panel]) at graph 0.5, 0.5 center
        plot [0:1] [0:1] 2 notitle
        unset label 1
    }
}
unset multiplot
set output
print sprintf("wrote %s", out)
