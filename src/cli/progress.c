/* Sampler progress on stderr, like A1111's tqdm bar:
 *   batch 1/2  12/16 [00:05<00:02, 2.31it/s]
 * redrawn in place on a terminal, one line per step otherwise. The rate is
 * measured from the first step's callback (so prompt encoding and VAE work
 * before the sampler do not distort it); s/it when slower than 1 it/s. */
#include "cli/generate.h"

#include <time.h>
#include <unistd.h>

void cli_format_duration(double seconds, char *buf, size_t size)
{
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%02ld:%02ld", s / 60, s % 60);
}

void cli_progress_init(cli_progress *p, int show, volatile sig_atomic_t *interrupted)
{
    *p = (cli_progress){.show = show, .tty = isatty(2), .out = stderr, .iteration = -1,
                        .interrupted = interrupted};
    p->last_event = mend_clock_s();
}

void cli_progress_end(cli_progress *p)
{
    if (p->line_open) {
        fputc('\n', p->out);
        fflush(p->out);
        p->line_open = 0;
    }
}

static void draw(cli_progress *p, const mend_gen_progress *g, double now)
{
    int done = g->step + 1;
    double elapsed = now - p->batch_start;
    char el[32], eta[32] = "?", rate[32] = "?it/s";
    cli_format_duration(elapsed, el, sizeof el);
    if (g->step > 0 && now > p->first_step) {
        double per_step = (now - p->first_step) / g->step;
        cli_format_duration(per_step * (g->steps - done), eta, sizeof eta);
        if (per_step > 1.0)
            snprintf(rate, sizeof rate, "%.2fs/it", per_step);
        else
            snprintf(rate, sizeof rate, "%.2fit/s", 1.0 / per_step);
    }
    fprintf(p->out, "%sbatch %d/%d  %d/%d [%s<%s, %s]%s", p->tty ? "\r" : "", g->iteration + 1, g->n_iter, done,
            g->steps, el, eta, rate, p->tty ? "\033[K" : "\n");
    p->line_open = p->tty;
    if (p->tty && done == g->steps)
        cli_progress_end(p);
    fflush(p->out);
}

mend_status cli_progress_step(void *user, const mend_gen_progress *g, mend_err *err)
{
    cli_progress *p = user;
    double now = mend_clock_s();
    if (g->iteration != p->iteration || g->step == 0) {
        /* a new bar: it started when the previous event (or the job) ended */
        cli_progress_end(p);
        p->iteration = g->iteration;
        p->batch_start = p->last_event;
        p->first_step = now;
    }
    p->last_event = now;
    if (p->show)
        draw(p, g, now);
    if (p->interrupted && *p->interrupted)
        return mend_fail(err, MEND_E_INTERRUPTED, "interrupted");
    return MEND_OK;
}
