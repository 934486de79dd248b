/* Text for a terminal: paragraphs wrapped to a width. Internal. */
#ifndef HWADAPT_CORE_TEXT_H
#define HWADAPT_CORE_TEXT_H

#include <stdio.h>

/* Columns a UTF-8 string takes on a terminal (continuation bytes take none). */
int hwa__text_width(const char *s);

/* Writes text, whose first character goes at column `at` (the caller has
 * already written what precedes it), broken at spaces so that no line
 * passes `width` columns; later lines start with `indent` spaces. Runs of
 * spaces become one; a word longer than a line stands alone on its line.
 * Ends with a newline. */
void hwa__text_wrap(FILE *f, const char *text, int at, int indent, int width);

#endif
