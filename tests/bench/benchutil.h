/* benchutil.h - what the small benchmark programs (xform_bench,
 * proc_bench, getrecords_bench) share: a monotonic clock, sorting run
 * times for a median, and "--name value" arguments. */
#ifndef FH_BENCHUTIL_H
#define FH_BENCHUTIL_H

double bench_now_s(void);                       /* monotonic seconds */
int bench_cmp_double(const void *a, const void *b);    /* for qsort */
/* The value after argv's "name", or def. */
long bench_arg_long(int argc, char **argv, const char *name, long def);

#endif
