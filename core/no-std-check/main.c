/* Links the no_std static library into a C program with no Rust runtime. */
#include <stdio.h>
#include <string.h>

size_t peregrine_parse_head_len(const unsigned char *ptr, size_t len);
size_t peregrine_serve(const unsigned char *input, size_t input_len, unsigned char *out, size_t out_cap);

int main(void) {
    const char *request = "GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\nbody";
    size_t head = peregrine_parse_head_len((const unsigned char *)request, strlen(request));
    if (head != strlen(request) - 4) {
        fprintf(stderr, "no-std-check: head length %zu, expected %zu\n", head, strlen(request) - 4);
        return 1;
    }
    printf("no-std-check: parsed a %zu-byte head without std or alloc\n", head);

    const char *pipeline = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *one = "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\nHello from no_std";
    unsigned char out[512];
    size_t n = peregrine_serve((const unsigned char *)pipeline, strlen(pipeline), out, sizeof out);
    if (n != 2 * strlen(one) || memcmp(out, one, strlen(one)) != 0 ||
        memcmp(out + strlen(one), one, strlen(one)) != 0) {
        fprintf(stderr, "no-std-check: connection answered %zu bytes: %.*s\n", n, (int)n, out);
        return 1;
    }
    printf("no-std-check: a connection answered 2 pipelined requests without std or alloc\n");
    return 0;
}
