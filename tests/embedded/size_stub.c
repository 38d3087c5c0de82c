/* SPDX-License-Identifier: MIT */
/* The baseline of tools/size-table: the same static region as the size programs and no uheap
 * call, so what newlib's start-up and exit cost is subtracted from every program's sizes. */
static unsigned char region[16384];

int main(void) { return region[3]; }
