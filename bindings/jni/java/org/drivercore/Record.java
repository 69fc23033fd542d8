/*
 * One record as read (dc_record in include/drivercore/record.h): an immutable
 * Java object, copied out of the library when read, so it may be kept, shared
 * between threads, and read after the replica is closed.  Registers and sets
 * are in field-name order; a set's members in the library's value order
 * (dc_value_compare); events in event order.  Values are null, Boolean, Long,
 * Double, String or byte[] (a copy is handed out).  docs/reading.md.
 */
package org.drivercore;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class Record {
    private final String type;
    private final String id;
    private final Map<String, Object> registers;
    private final Map<String, List<Object>> sets;
    private final List<String> fields;
    private final List<Event> events;

    /** One event: when (ms since the epoch), who (the author device's id in hex), its fields. */
    public static final class Event {
        private final long timeMs;
        private final String author;
        private final Map<String, Object> fields;

        Event(long timeMs, String author, Map<String, Object> fields) {
            this.timeMs = timeMs;
            this.author = author;
            this.fields = fields;
        }

        public long timeMs() {
            return timeMs;
        }

        public String author() {
            return author;
        }

        /** The event's fields, keys in bytewise order. */
        public Map<String, Object> fields() {
            return fields;
        }

        /** A field's value, or null (absent, or a null value: see fields().containsKey). */
        public Object get(String key) {
            return copy(fields.get(key));
        }

        public String getString(String key) {
            Object v = fields.get(key);
            return v instanceof String ? (String) v : null;
        }

        public Long getLong(String key) {
            Object v = fields.get(key);
            return v instanceof Long ? (Long) v : null;
        }
    }

    private Record(String type, String id, Map<String, Object> registers,
                   Map<String, List<Object>> sets, List<String> fields, List<Event> events) {
        this.type = type;
        this.id = id;
        this.registers = registers;
        this.sets = sets;
        this.fields = fields;
        this.events = events;
    }

    private static Object copy(Object v) {
        return v instanceof byte[] ? ((byte[]) v).clone() : v;
    }

    private static String utf8(Object b) {
        return new String((byte[]) b, StandardCharsets.UTF_8);
    }

    private static List<Object> values(Object packed) {
        Object[] p = (Object[]) packed;
        int[] kinds = (int[]) p[0];
        long[] nums = (long[]) p[1];
        double[] reals = (double[]) p[2];
        Object[] raw = (Object[]) p[3];
        List<Object> out = new ArrayList<>(kinds.length);
        for (int i = 0; i < kinds.length; i++) {
            out.add(Values.toJava(kinds[i], nums[i], reals[i], (byte[]) raw[i]));
        }
        return out;
    }

    /** Builds the record from the native handle rec (not freed here). */
    static Record decode(long rec) {
        Object[] d = Native.recordDecode(rec);
        Object[] names = (Object[]) d[2];
        boolean[] isSet = (boolean[]) d[3];
        Object[] fvals = (Object[]) d[4];
        Map<String, Object> regs = new LinkedHashMap<>();
        Map<String, List<Object>> sets = new LinkedHashMap<>();
        List<String> fields = new ArrayList<>(names.length);
        for (int i = 0; i < names.length; i++) {
            String name = utf8(names[i]);
            fields.add(name);
            List<Object> vs = values(fvals[i]);
            if (isSet[i]) {
                sets.put(name, Collections.unmodifiableList(vs));
            } else {
                regs.put(name, vs.get(0));
            }
        }
        long[] times = (long[]) d[5];
        Object[] authors = (Object[]) d[6];
        Object[] ekeys = (Object[]) d[7];
        Object[] evals = (Object[]) d[8];
        List<Event> events = new ArrayList<>(times.length);
        for (int i = 0; i < times.length; i++) {
            Object[] keys = (Object[]) ekeys[i];
            List<Object> vs = values(evals[i]);
            Map<String, Object> f = new LinkedHashMap<>();
            for (int k = 0; k < keys.length; k++) {
                f.put(utf8(keys[k]), vs.get(k));
            }
            events.add(new Event(times[i], utf8(authors[i]), Collections.unmodifiableMap(f)));
        }
        return new Record(utf8(d[0]), utf8(d[1]), Collections.unmodifiableMap(regs),
                Collections.unmodifiableMap(sets), Collections.unmodifiableList(fields),
                Collections.unmodifiableList(events));
    }

    public String type() {
        return type;
    }

    public String id() {
        return id;
    }

    /** Every field, registers and sets, in name order. */
    public List<String> fields() {
        return fields;
    }

    public boolean has(String field) {
        return registers.containsKey(field) || sets.containsKey(field);
    }

    public boolean isSet(String field) {
        return sets.containsKey(field);
    }

    /** A register's value, or null when there is none (or it holds null: see has). */
    public Object get(String field) {
        return copy(registers.get(field));
    }

    /** A string register, or null when absent or of another kind. */
    public String getString(String field) {
        Object v = registers.get(field);
        return v instanceof String ? (String) v : null;
    }

    /** An integer register, or null when absent or of another kind. */
    public Long getLong(String field) {
        Object v = registers.get(field);
        return v instanceof Long ? (Long) v : null;
    }

    /** A float register, or null when absent or of another kind. */
    public Double getDouble(String field) {
        Object v = registers.get(field);
        return v instanceof Double ? (Double) v : null;
    }

    public Boolean getBoolean(String field) {
        Object v = registers.get(field);
        return v instanceof Boolean ? (Boolean) v : null;
    }

    /** A bytes register (a copy), or null when absent or of another kind. */
    public byte[] getBytes(String field) {
        Object v = registers.get(field);
        return v instanceof byte[] ? ((byte[]) v).clone() : null;
    }

    /** A set's distinct members in value order; empty when there is no such set. */
    public List<Object> getSet(String field) {
        List<Object> s = sets.get(field);
        if (s == null) {
            return Collections.emptyList();
        }
        List<Object> out = new ArrayList<>(s.size());
        for (Object v : s) {
            out.add(copy(v));
        }
        return Collections.unmodifiableList(out);
    }

    public List<Event> events() {
        return events;
    }

    @Override
    public String toString() {
        return "Record(" + type + "/" + id + ", fields " + fields + ", " + events.size()
                + " events)";
    }
}
