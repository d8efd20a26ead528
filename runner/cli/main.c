#include <stdio.h>
int main(void) { puts("drplan"); return 0; }
