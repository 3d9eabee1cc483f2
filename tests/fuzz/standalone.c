/*
 * A plain-C libFuzzer harness without libFuzzer: each file named on the
 * command line is one input, run once (tests/test_fuzz_c_corpus.py runs
 * the committed corpora so in the normal suite).  The harness's oracle
 * aborts on a failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole file, in *data (malloc'd; not NULL even when empty).  0, or
   -1 with a message. */
static int
read_input(const char *path, uint8_t **data, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        perror(path);
        return -1;
    }
    size_t cap = 4096;
    *size = 0;
    *data = malloc(cap);
    while (*data != NULL) {
        *size += fread(*data + *size, 1, cap - *size, file);
        if (*size < cap) {
            break;
        }
        uint8_t *more = realloc(*data, cap * 2);
        if (more == NULL) {
            free(*data);
        }
        *data = more;
        cap *= 2;
    }
    int failed = *data == NULL || ferror(file);
    fclose(file);
    if (failed) {
        fprintf(stderr, "%s: cannot read it\n", path);
        free(*data);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        uint8_t *data;
        size_t size;
        if (read_input(argv[i], &data, &size) < 0) {
            return 1;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
    }
    return 0;
}
