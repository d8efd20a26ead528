/*
 * replay.c - feed files to a libFuzzer target without libFuzzer, so the
 * corpus replays as an ordinary test (gcc builds, sanitizer builds).
 *
 * Usage: replay-NAME PATH...  where each PATH is a file or a directory
 * whose regular files are fed in name order. Exits 1 when no input found.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, alloc = 0, n;

	if (!f) {
		perror(path);
		return -1;
	}
	do {
		if (len + 4096 > alloc) {
			alloc = alloc ? alloc * 2 : 8192;
			buf = realloc(buf, alloc);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, alloc - len, f);
		len += n;
	} while (n);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int i, count = 0, failed = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;
		char **names = NULL;
		size_t n = 0, k;

		if (stat(argv[i], &st)) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]))
				failed++;
			else
				count++;
			continue;
		}
		d = opendir(argv[i]);
		if (!d) {
			perror(argv[i]);
			return 1;
		}
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			names = realloc(names, (n + 1) * sizeof(*names));
			names[n++] = strdup(e->d_name);
		}
		closedir(d);
		qsort(names, n, sizeof(*names), cmp_str);
		for (k = 0; k < n; k++) {
			char path[4096];

			if ((size_t)snprintf(path, sizeof(path), "%s/%s", argv[i],
					     names[k]) >= sizeof(path) || run_file(path))
				failed++;
			else
				count++;
			free(names[k]);
		}
		free(names);
	}
	/* Getting here means no input crashed the target; unreadable ones
	 * count as failures. */
	printf("%d passed, %d failed\n", count, failed);
	return count && !failed ? 0 : 1;
}
