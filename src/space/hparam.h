/* hparam.h - the hyperparameter part of an arch (private to src/space).
 *
 * arch.c calls these around each family's codec when the space searches
 * hyperparameters (s->n_hparams > 0): the family handles the cells, these
 * the values hp[0..n_hparams), so every strategy searches both at once.
 * Implemented in arch_hparam.c; tested by tests/test_hparam.c.
 */
#ifndef CF_SPACE_HPARAM_H
#define CF_SPACE_HPARAM_H

#include "cellforge/space.h"

/* v in the fewest significant digits (up to 17) that read back as v. */
void cf_hparam_number_text(double v, char *buf, size_t cap);
/* v to 4 significant digits (what sampling and steps keep). */
double cf_hparam_round(double v);

/* Bytes of the " {k=v,...}" block of any arch of s (0 without hyperparameters). */
size_t cf_hparam_text_max(const cf_space *s);
/* Append " {k=v,...}" for a to buf (holding len bytes of text); CF_ERR_INVALID_ARG when cap is short. */
cf_status cf_hparam_format(const cf_space *s, const cf_arch *a, char *buf, size_t len, size_t cap);
/* Where the block of text starts (the offset of its " {"), or fail naming
 * what was expected; the family's text is text[0..*family_len). */
cf_status cf_hparam_split(const cf_space *s, const char *text, size_t *family_len);
/* Read the block starting at text + family_len into out->hp. */
cf_status cf_hparam_parse(const cf_space *s, const char *text, size_t family_len, cf_arch *out);
cf_status cf_hparam_validate(const cf_space *s, const cf_arch *a);
void cf_hparam_sample(const cf_space *s, cf_rng *rng, cf_arch *out);
/* Copies of a with one value stepped: int +-1, another choice, a continuous
 * value up or down by an eighth of its range (a factor for log ranges),
 * clipped. Writes up to cap, returns the total. */
size_t cf_hparam_neighbors(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap);
/* Each value of out from a or b with equal odds. */
void cf_hparam_crossover(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *b, cf_arch *out);
size_t cf_hparam_encoding_size(const cf_space *s);
/* Numbers scaled to [0, 1] (log ranges on the log scale), choices one-hot. */
void cf_hparam_encode(const cf_space *s, const cf_arch *a, float *out);
/* Grid levels: int ranges every whole number, choices every choice,
 * continuous ranges 3 levels (low end, middle, high end; the geometric
 * middle for log ranges). */
int cf_hparam_levels(const cf_space *s, int i);
double cf_hparam_level(const cf_space *s, int i, int level);
double cf_hparam_grid_size(const cf_space *s);

#endif
