/* replay_main.h — the plain main of every fuzz harness, compiled with
 * -DI2K_FUZZ_MAIN (make build/fuzz/NAME, tests/fuzz/replay.sh): runs
 * LLVMFuzzerTestOneInput once per file named on the command line (at most
 * the first 16 MiB of each) and prints "ok FILE". Included at the end of
 * each harness; without I2K_FUZZ_MAIN (libFuzzer builds) it is empty. */
#ifndef I2K_TESTS_FUZZ_REPLAY_MAIN_H
#define I2K_TESTS_FUZZ_REPLAY_MAIN_H
#ifdef I2K_FUZZ_MAIN
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	static uint8_t buf[16 << 20];
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		printf("ok %s\n", argv[i]);
	}
	return 0;
}
#endif
#endif
