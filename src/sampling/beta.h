/* Regularized incomplete beta, its inverse (scipy stats.beta.ppf) and
 * A1111's Beta scheduler. */
#ifndef MEND_SAMPLING_BETA_H
#define MEND_SAMPLING_BETA_H

/* I_x(a, b), a, b > 0. */
double mend_beta_inc(double a, double b, double x);

/* x with I_x(a, b) = p (NAN for invalid arguments); accurate to ~1e-15. */
double mend_beta_ppf(double p, double a, double b);

/* A1111's beta_scheduler: sigma_min + ppf(1 - i/(n-1)) * (sigma_max -
 * sigma_min) for i = 0..n-1, then 0. out (and out64 if not NULL) need n+1
 * values; returns n+1. */
int mend_beta_schedule(double smin, double smax, int n, double alpha, double beta, float *out, double *out64);

/* A1111's defaults (opts beta_dist_alpha, beta_dist_beta). */
#define MEND_BETA_DIST_ALPHA 0.6
#define MEND_BETA_DIST_BETA 0.6

#endif
