/* The inverse regularized incomplete beta function (what scipy's
 * stats.beta.ppf computes) and A1111's Beta scheduler built on it
 * ("Beta Sampling is All You Need", arXiv:2407.12173).
 *
 * I_x(a, b) comes from the classic continued fraction (modified Lentz), in
 * double; the inverse is a safeguarded bisection on [0, 1]: I_x is monotone,
 * so 200 halvings (stopping when the bracket no longer shrinks) reach the
 * double spacing of the answer whatever a and b are, without the start-value
 * heuristics Newton's method needs near the endpoints. */
#include "sampling/beta.h"

#include <math.h>

/* Continued fraction for I_x(a, b), valid (fast) for x < (a+1)/(a+b+2). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-16;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        for (int half = 0; half < 2; half++) {
            d = 1.0 + num * d;
            if (fabs(d) < tiny)
                d = tiny;
            c = 1.0 + num / c;
            if (fabs(c) < tiny)
                c = tiny;
            d = 1.0 / d;
            h *= d * c;
            /* the odd term of the fraction follows the even one */
            num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
            if (half == 1 && fabs(d * c - 1.0) < eps)
                return h;
        }
    }
    return h;
}

double mend_beta_inc(double a, double b, double x)
{
    if (!(x > 0.0))
        return 0.0;
    if (!(x < 1.0))
        return 1.0;
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lfront) * beta_cf(a, b, x) / a;
    return 1.0 - exp(lfront) * beta_cf(b, a, 1.0 - x) / b;
}

double mend_beta_ppf(double p, double a, double b)
{
    if (!(a > 0.0) || !(b > 0.0) || !(p >= 0.0 && p <= 1.0))
        return NAN;
    if (p == 0.0)
        return 0.0;
    if (p == 1.0)
        return 1.0;
    double lo = 0.0, hi = 1.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi)
            break;
        if (mend_beta_inc(a, b, mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* A1111 beta_scheduler: numpy float64 throughout, the tensor made float32
 * at the end. timesteps = 1 - linspace(0, 1, n). */
int mend_beta_schedule(double smin, double smax, int n, double alpha, double beta, float *out, double *out64)
{
    for (int i = 0; i < n; i++) {
        double u = n > 1 ? (double)i * (1.0 / (double)(n - 1)) : 0.0;
        /* numpy linspace: step * i, with the last point set to stop exactly */
        if (n > 1 && i == n - 1)
            u = 1.0;
        double v = smin + mend_beta_ppf(1.0 - u, alpha, beta) * (smax - smin);
        out[i] = (float)v;
        if (out64)
            out64[i] = v;
    }
    out[n] = 0.0f;
    if (out64)
        out64[n] = 0.0;
    return n + 1;
}
