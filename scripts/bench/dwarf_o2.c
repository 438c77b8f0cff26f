/* A small -O2 program whose fault is inside two inlined static functions:
 * main -> outer_call -> (inlined) middle_step -> (inlined) leaf_store. */
int *volatile null_pointer;
volatile int sink;

static inline int leaf_store(int v) {
  *null_pointer = v;
  return v;
}

static inline int middle_step(int v) { return leaf_store(v + 1) * 2; }

__attribute__((noipa)) int outer_call(int v) {
  int r = middle_step(v);
  sink = r;
  return r;
}

int main(void) { return outer_call(1); }
