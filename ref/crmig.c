/* crmig — the reference migrator: entry point and the command table. */
#include "util.h"

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	puts("crmig " CRMIG_VERSION);
	return 0;
}
