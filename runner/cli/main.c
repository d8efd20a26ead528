#include <stdio.h>

/* Placeholder until the plan, rules, graph and report modules land. */
int main(void)
{
	puts("drplan " DR_VERSION);
	return 0;
}
