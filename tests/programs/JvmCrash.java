// HotSpot and its own SIGSEGV handler (tests/runtimes.rs).
//   java JvmCrash unsafe   a write to address 16 through sun.misc.Unsafe:
//                          the VM writes its hs_err report (exit 1 with
//                          -XX:-CreateCoredumpOnCrash)
//   java JvmCrash npe      100,000 NullPointerExceptions, most of them from
//                          compiled code's implicit null checks (a SIGSEGV
//                          the VM turns into the exception)
import java.lang.reflect.Field;

public class JvmCrash {
    static Object[] objects = new Object[1];

    static int hash(int i) {
        return objects[i & 0].hashCode();
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("npe")) {
            int caught = 0;
            for (int i = 0; i < 100000; i++) {
                try {
                    hash(i);
                } catch (NullPointerException e) {
                    caught++;
                }
            }
            System.out.println("caught " + caught);
            return;
        }
        Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        sun.misc.Unsafe u = (sun.misc.Unsafe) f.get(null);
        u.putAddress(16, 1);
    }
}
