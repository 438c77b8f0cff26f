/* A function whose symbol name holds a quote, a backslash, a byte that is not
 * UTF-8 (0xff), a control character (0x01) and a valid UTF-8 "\xc3\xa9" (e acute):
 * a JSON dump must escape each one correctly. The assembler takes such a name
 * only quoted, and not as an instruction operand, so main calls it through a
 * pointer kept in data. */
#define WEIRD "\"weird\\\"na\\\\me\xff\x01\xc3\xa9\""
__attribute__((noinline, used)) void weird_fn(volatile int *p) __asm__(WEIRD);
__attribute__((noinline, used)) void weird_fn(volatile int *p) { *p = 1; __asm__ volatile(""); }
__asm__(".section .data.rel.ro,\"aw\"\n.p2align 3\nweird_fn_ptr: .quad " WEIRD "\n.previous");
extern void (*const weird_fn_ptr)(volatile int *);
int main(void) { weird_fn_ptr(0); return 0; }
