/* Links the no_std static library into a C program with no Rust runtime. */
#include <stdio.h>
#include <string.h>

size_t peregrine_parse_head_len(const unsigned char *ptr, size_t len);

int main(void) {
    const char *request = "GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\nbody";
    size_t head = peregrine_parse_head_len((const unsigned char *)request, strlen(request));
    if (head != strlen(request) - 4) {
        fprintf(stderr, "no-std-check: head length %zu, expected %zu\n", head, strlen(request) - 4);
        return 1;
    }
    printf("no-std-check: parsed a %zu-byte head without std or alloc\n", head);
    return 0;
}
