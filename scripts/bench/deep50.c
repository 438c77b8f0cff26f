/* deep50: one thread faults 50 frames deep (a recursion of noinline
 * frames), for the minidump benchmark (scripts/bench-minidump.sh). */
int *volatile null_pointer;

__attribute__((noipa)) static int descend(int depth) {
  if (depth == 0) return *null_pointer;
  return descend(depth - 1) + 1;
}

int main(void) { return descend(48); }
