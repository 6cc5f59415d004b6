# make bench: throughput and latency per connection count, from the data
# files bench/report.py writes (run in build/bench).
set terminal pngcairo size 1400,560 font "sans,10"
set output "results.png"
set datafile missing "NaN"
set key outside bottom center horizontal font ",9"
set grid
set logscale y
set logscale x 2
set xlabel "wrk connections"
set xtics (1, 2, 4, 8, 16, 32, 64)

set multiplot layout 1,2 title "micro-user: make bench (see results.md)"

set title "throughput"
set ylabel "requests/s (log)"
stats "rps.dat" skip 1 nooutput
n = STATS_columns
plot for [i=2:n] "rps.dat" using 1:i with linespoints lw 2 pt 7 title columnheader(i)

set title "latency: p50 (dashed) and p99 (solid)"
set ylabel "ms (log)"
set key off
plot for [i=2:n] "latency.dat" using 1:(column(2*i-2)) with linespoints dt 2 lw 1 pt 6 lc (i-1) notitle, \
     for [i=2:n] "latency.dat" using 1:(column(2*i-1)) with linespoints lw 2 pt 7 lc (i-1) notitle

unset multiplot
