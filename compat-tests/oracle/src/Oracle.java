import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BinaryNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.RequestHeaderData;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.BaseRecords;
import org.apache.kafka.common.record.internal.CompressionType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.SimpleRecord;

import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * The differential oracle's client: runs request scenarios against one broker and prints every
 * response as JSON, using Kafka's own generated message classes and JSON converters (from the
 * published kafka-clients jar) to build requests and to parse responses.
 *
 * <p>Protocol: one JSON job per stdin line, {"id", "bootstrap", "vars", "steps"}; one JSON line
 * per finished job on stdout, {"id", "results"}. Jobs run concurrently (one thread each), so the
 * same case can run against two brokers at once. See compat-tests/oracle/README.md for the step
 * language.
 */
public final class Oracle {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final JsonNodeFactory NF = JsonNodeFactory.instance;
    static final String PKG = "org.apache.kafka.common.message.";
    static final Pattern VAR = Pattern.compile("\\$\\{([A-Za-z0-9_.]+)\\}");

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) continue;
            final JsonNode job = MAPPER.readTree(line);
            pool.submit(() -> {
                ObjectNode result = NF.objectNode();
                result.set("id", job.get("id"));
                try {
                    if (job.has("apiNames")) {
                        // The scenario language names APIs as Kafka's message classes do.
                        ObjectNode names = result.putObject("apiNames");
                        for (ApiKeys k : ApiKeys.values()) names.put(k.name, k.id);
                    } else {
                        result.set("results", new CaseRunner(job).run());
                    }
                } catch (Throwable e) {
                    result.put("fatal", describe(e));
                }
                String text;
                try {
                    text = MAPPER.writeValueAsString(result);
                } catch (Exception e) {
                    text = "{\"id\":" + job.get("id") + ",\"fatal\":\"cannot serialise result\"}";
                }
                synchronized (out) {
                    out.println(text);
                    out.flush();
                }
            });
        }
        pool.shutdown();
        pool.awaitTermination(5, TimeUnit.MINUTES);
    }

    static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    // ------------------------------------------------------------------------------------------
    // One connection to the broker.

    static final class Conn implements AutoCloseable {
        final Socket socket;
        final DataInputStream in;
        final DataOutputStream out;
        int correlation = 1;

        Conn(String bootstrap) throws IOException {
            int colon = bootstrap.lastIndexOf(':');
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(bootstrap.substring(0, colon),
                Integer.parseInt(bootstrap.substring(colon + 1))), 10_000);
            in = new DataInputStream(socket.getInputStream());
            out = new DataOutputStream(socket.getOutputStream());
        }

        void send(byte[] frame) throws IOException {
            out.write(frame);
            out.flush();
        }

        /** One response frame, or null when nothing arrived within timeoutMs. Throws EOF on close. */
        byte[] receive(int timeoutMs) throws IOException {
            socket.setSoTimeout(timeoutMs);
            int len;
            try {
                len = in.readInt();
            } catch (SocketTimeoutException e) {
                return null;
            }
            socket.setSoTimeout(60_000);
            byte[] body = new byte[len];
            in.readFully(body);
            return body;
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Running one case against one broker.

    static final class CaseRunner {
        final String bootstrap;
        final ObjectNode vars;
        final JsonNode steps;
        final Map<String, Conn> conns = new HashMap<>();
        final Map<String, CompletableFuture<ObjectNode>> pending = new HashMap<>();
        final ArrayNode results = NF.arrayNode();
        final long started = System.nanoTime();

        CaseRunner(JsonNode job) {
            bootstrap = job.get("bootstrap").asText();
            vars = job.has("vars") ? (ObjectNode) job.get("vars").deepCopy() : NF.objectNode();
            steps = job.get("steps");
        }

        ArrayNode run() {
            try {
                for (JsonNode step : steps) {
                    try {
                        runStep(step);
                    } catch (Exception e) {
                        ObjectNode r = NF.objectNode();
                        r.put("step", step.path("id").asText("?"));
                        r.put("error", "step failed: " + describe(e));
                        results.add(r);
                    }
                }
                for (Map.Entry<String, CompletableFuture<ObjectNode>> e : pending.entrySet()) {
                    ObjectNode r = NF.objectNode();
                    r.put("step", e.getKey());
                    r.put("error", "async step never awaited");
                    results.add(r);
                }
            } finally {
                for (Conn c : conns.values()) c.close();
            }
            return results;
        }

        Conn conn(String name) throws IOException {
            Conn c = conns.get(name);
            if (c == null) {
                c = new Conn(bootstrap);
                conns.put(name, c);
            }
            return c;
        }

        void record(JsonNode step, ObjectNode result) {
            if (step.path("record").asBoolean(true)) results.add(result);
        }

        void runStep(JsonNode step) throws Exception {
            String id = step.path("id").asText("?");
            if (step.has("sleep")) {
                Thread.sleep(step.get("sleep").asLong());
                return;
            }
            if (step.has("close")) {
                Conn c = conns.remove(step.get("close").asText());
                if (c != null) c.close();
                return;
            }
            if (step.has("set")) {
                Iterator<Map.Entry<String, JsonNode>> it = step.get("set").properties().iterator();
                while (it.hasNext()) {
                    Map.Entry<String, JsonNode> e = it.next();
                    vars.set(e.getKey(), substitute(e.getValue()));
                }
                return;
            }
            if (step.has("await")) {
                String target = step.get("await").asText();
                CompletableFuture<ObjectNode> f = pending.remove(target);
                ObjectNode r;
                if (f == null) {
                    r = NF.objectNode();
                    r.put("step", target);
                    r.put("error", "no such async step");
                } else {
                    r = f.get(step.path("timeoutMs").asLong(60_000) + 5_000, TimeUnit.MILLISECONDS);
                }
                capture(step, r);
                record(step, r);
                return;
            }
            if (!step.has("api")) throw new IllegalArgumentException("step " + id + " has no api");

            String connName = step.path("conn").asText("main");
            if (step.path("async").asBoolean(false)) {
                // Build and send now (so the order of sends is the step order); read later.
                final Prepared p;
                try {
                    p = prepare(step);
                } catch (Exception e) {
                    ObjectNode r = base(step);
                    r.put("error", "cannot build request: " + describe(e));
                    record(step, r);
                    return;
                }
                final Conn c = conn(connName);
                final int corr = c.correlation++;
                c.send(frame(p, corr));
                pending.put(id, CompletableFuture.supplyAsync(() -> {
                    ObjectNode r = base(step);
                    try {
                        receiveInto(r, p, c, corr, step.path("timeoutMs").asInt(60_000));
                    } catch (Exception e) {
                        r.put("error", describe(e));
                    }
                    return r;
                }));
                return;
            }

            if (step.has("observeForMs")) {
                observe(step, connName);
                return;
            }
            long deadline = System.currentTimeMillis() + step.path("untilTimeoutMs").asLong(15_000);
            while (true) {
                ObjectNode r = exchange(step, connName);
                if (!step.has("until") || satisfied(step.get("until"), r)) {
                    capture(step, r);
                    if (step.has("expect") && !satisfied(step.get("expect"), r)) {
                        // A setup step that did not do what the scenario relies on: always shown.
                        r.put("expectFailed", true);
                        results.add(r);
                        return;
                    }
                    record(step, r);
                    return;
                }
                if (System.currentTimeMillis() > deadline) {
                    r.put("untilFailed", true);
                    capture(step, r);
                    record(step, r);
                    return;
                }
                Thread.sleep(step.path("untilIntervalMs").asLong(100));
            }
        }

        long elapsedMs() {
            return (System.nanoTime() - started) / 1_000_000;
        }

        /**
         * Repeats one request every observeEveryMs for observeForMs and records each answer that
         * differs from the one before, with its time (ms since the case began): a timeline.
         */
        void observe(JsonNode step, String connName) throws Exception {
            ObjectNode r = base(step);
            ArrayNode seen = r.putArray("observations");
            long end = System.currentTimeMillis() + step.get("observeForMs").asLong();
            JsonNode last = null;
            while (System.currentTimeMillis() < end) {
                long at = elapsedMs();
                ObjectNode one = exchange(step, connName);
                JsonNode now = one.has("response") ? one.get("response") : one;
                if (!now.equals(last)) {
                    ObjectNode o = seen.addObject();
                    o.put("atMs", at);
                    o.set("response", now);
                    last = now;
                }
                Thread.sleep(step.path("observeEveryMs").asLong(100));
            }
            record(step, r);
        }

        ObjectNode base(JsonNode step) {
            ObjectNode r = NF.objectNode();
            r.put("step", step.path("id").asText("?"));
            if (step.path("timed").asBoolean(false)) r.put("atMs", elapsedMs());
            r.put("api", step.get("api").asText());
            r.put("version", step.has("version") ? step.get("version").asInt() : step.path("rawVersion").asInt());
            return r;
        }

        /** Sends one request on the named connection and reads its response. */
        ObjectNode exchange(JsonNode step, String connName) throws IOException {
            ObjectNode r = base(step);
            Prepared p;
            try {
                p = prepare(step);
            } catch (Exception e) {
                r.put("error", "cannot build request: " + describe(e));
                return r;
            }
            Conn c;
            try {
                c = conn(connName);
            } catch (IOException e) {
                r.put("error", "cannot connect: " + describe(e));
                return r;
            }
            int corr = c.correlation++;
            try {
                c.send(frame(p, corr));
                if (step.has("noResponseMs")) {
                    byte[] body = c.receive(step.get("noResponseMs").asInt());
                    if (body == null) {
                        r.put("noResponse", true);
                        return r;
                    }
                    parseInto(r, p, body, corr);
                    return r;
                }
                receiveInto(r, p, c, corr, step.path("timeoutMs").asInt(30_000));
            } catch (EOFException | java.net.SocketException e) {
                r.put("error", "disconnected");
                conns.remove(connName);
                c.close();
            }
            return r;
        }

        void receiveInto(ObjectNode r, Prepared p, Conn c, int corr, int timeoutMs) throws IOException {
            byte[] body;
            try {
                body = c.receive(timeoutMs);
            } catch (EOFException | java.net.SocketException e) {
                r.put("error", "disconnected");
                return;
            }
            if (body == null) {
                r.put("error", "no response within " + timeoutMs + " ms");
                return;
            }
            parseInto(r, p, body, corr);
        }

        boolean satisfied(JsonNode until, ObjectNode r) {
            Iterator<Map.Entry<String, JsonNode>> it = until.properties().iterator();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode actual = at(r, e.getKey());
                JsonNode want = substitute(e.getValue());
                if (want.isObject() && want.has("$ne")) {
                    if (actual.isMissingNode() || same(actual, want.get("$ne"))) return false;
                } else if (want.isObject() && want.has("$ge")) {
                    if (!actual.isNumber() || actual.asLong() < want.get("$ge").asLong()) return false;
                } else if (!same(actual, want)) {
                    return false;
                }
            }
            return true;
        }

        /** Equal JSON, numbers by value (responses hold shorts and longs, scenarios ints). */
        static boolean same(JsonNode a, JsonNode b) {
            return a.equals(b) || a.isNumber() && b.isNumber() && a.asLong() == b.asLong();
        }

        void capture(JsonNode step, ObjectNode r) {
            if (!step.has("capture")) return;
            Iterator<Map.Entry<String, JsonNode>> it = step.get("capture").properties().iterator();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode v = at(r, e.getValue().asText());
                if (!v.isMissingNode()) vars.set(e.getKey(), v.deepCopy());
            }
        }

        /**
         * A JSON pointer, where a segment "[field=value]" picks the array element whose field
         * has that value (e.g. /response/results/0/configs/[name=retention.ms]/value).
         */
        JsonNode at(JsonNode root, String pointer) {
            JsonNode n = root;
            for (String seg : pointer.substring(pointer.startsWith("/") ? 1 : 0).split("/")) {
                if (n == null || n.isMissingNode()) break;
                if (seg.startsWith("[") && seg.endsWith("]") && seg.contains("=")) {
                    String field = seg.substring(1, seg.indexOf('='));
                    String want = seg.substring(seg.indexOf('=') + 1, seg.length() - 1);
                    JsonNode found = com.fasterxml.jackson.databind.node.MissingNode.getInstance();
                    for (JsonNode el : n) {
                        if (el.path(field).asText().equals(want)) {
                            found = el;
                            break;
                        }
                    }
                    n = found;
                } else {
                    n = n.at("/" + seg.replace("~", "~0"));
                }
            }
            return n == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : n;
        }

        // --------------------------------------------------------------------------------------
        // Placeholders: "${name}" as a whole string becomes the variable's JSON value (number,
        // string, ...); inside a longer string it is replaced textually.

        JsonNode substitute(JsonNode node) {
            if (node.isTextual()) {
                String s = node.asText();
                Matcher whole = VAR.matcher(s);
                if (whole.matches()) {
                    JsonNode v = vars.get(whole.group(1));
                    if (v == null) throw new IllegalArgumentException("unknown variable ${" + whole.group(1) + "}");
                    return v.deepCopy();
                }
                Matcher m = VAR.matcher(s);
                StringBuilder sb = new StringBuilder();
                while (m.find()) {
                    JsonNode v = vars.get(m.group(1));
                    if (v == null) throw new IllegalArgumentException("unknown variable ${" + m.group(1) + "}");
                    m.appendReplacement(sb, Matcher.quoteReplacement(v.asText()));
                }
                m.appendTail(sb);
                return new TextNode(sb.toString());
            }
            if (node.isArray()) {
                ArrayNode a = NF.arrayNode();
                for (JsonNode n : node) a.add(substitute(n));
                return a;
            }
            if (node.isObject()) {
                ObjectNode o = NF.objectNode();
                Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator();
                while (it.hasNext()) {
                    Map.Entry<String, JsonNode> e = it.next();
                    o.set(e.getKey(), substitute(e.getValue()));
                }
                return o;
            }
            return node;
        }

        // --------------------------------------------------------------------------------------
        // Building requests.

        Prepared prepare(JsonNode step) throws Exception {
            Prepared p = new Prepared();
            p.version = (short) step.path("version").asInt(-1);
            String api = step.get("api").asText();
            JsonNode header = step.path("header");
            p.clientId = header.has("clientId")
                ? (header.get("clientId").isNull() ? null : substitute(header.get("clientId")).asText())
                : "oracle";
            if (api.equals("raw")) {
                // A hand-made request: any api key / version, body given as hex.
                p.rawApiKey = (short) step.get("apiKey").asInt();
                p.rawVersion = (short) step.get("rawVersion").asInt();
                p.rawBody = hex(substitute(step.path("bodyHex")).asText(""));
                p.key = ApiKeys.forId(step.path("parseAs").asInt(p.rawApiKey));
                p.rawParseVersion = (short) step.path("parseVersion").asInt(p.rawVersion);
                p.rawHeaderVersion = (short) step.path("headerVersion").asInt(-1);
                return p;
            }
            p.key = apiKey(api);
            JsonNode request = substitute(step.has("request") ? step.get("request") : NF.objectNode());
            request = expandRecords(request);
            p.request = readRequest(p.key, request, p.version);
            return p;
        }

        byte[] frame(Prepared p, int corr) {
            ObjectSerializationCache cache = new ObjectSerializationCache();
            short apiKey = p.rawBody != null ? p.rawApiKey : p.key.id;
            short version = p.rawBody != null ? p.rawVersion : p.version;
            short headerVersion = p.rawBody != null ? rawHeaderVersion(p) : p.key.requestHeaderVersion(version);
            RequestHeaderData h = new RequestHeaderData()
                .setRequestApiKey(apiKey).setRequestApiVersion(version)
                .setClientId(p.clientId).setCorrelationId(corr);
            int hsize = h.size(cache, headerVersion);
            int bsize = p.rawBody != null ? p.rawBody.length : p.request.size(cache, version);
            ByteBuffer buf = ByteBuffer.allocate(4 + hsize + bsize);
            buf.putInt(hsize + bsize);
            ByteBufferAccessor acc = new ByteBufferAccessor(buf);
            h.write(acc, cache, headerVersion);
            if (p.rawBody != null) buf.put(p.rawBody);
            else p.request.write(acc, cache, version);
            return buf.array();
        }

        // --------------------------------------------------------------------------------------
        // Parsing responses.

        void parseInto(ObjectNode r, Prepared p, byte[] body, int corr) {
            ByteBuffer buf = ByteBuffer.wrap(body);
            short version = p.rawBody != null ? p.rawParseVersion : p.version;
            ApiKeys key = p.key;
            short headerVersion = key.isVersionSupported(version) ? key.responseHeaderVersion(version) : 0;
            ResponseHeaderData h;
            try {
                h = new ResponseHeaderData(new ByteBufferAccessor(buf), headerVersion);
            } catch (RuntimeException e) {
                r.put("error", "unparsable response header: " + describe(e));
                r.put("rawHex", hexOf(body, 0, Math.min(body.length, 256)));
                return;
            }
            if (h.correlationId() != corr) r.put("correlationMismatch", h.correlationId());
            int start = buf.position();
            ApiMessage msg = null;
            short parsedVersion = version;
            RuntimeException failure = null;
            try {
                msg = parseBody(key, buf, version);
            } catch (RuntimeException e) {
                failure = e;
            }
            // Kafka's client reads an ApiVersions response it cannot parse at the requested
            // version as v0: that is how a broker answers a version newer than it knows.
            if (key == ApiKeys.API_VERSIONS && version != 0 && (failure != null
                    || ((org.apache.kafka.common.message.ApiVersionsResponseData) msg).errorCode() == 35)) {
                buf.position(start);
                try {
                    msg = parseBody(key, buf, (short) 0);
                    parsedVersion = 0;
                    failure = null;
                } catch (RuntimeException e) {
                    failure = e;
                }
            }
            if (failure != null) {
                r.put("error", "unparsable response: " + describe(failure));
                r.put("rawHex", hexOf(body, start, Math.min(body.length - start, 512)));
                return;
            }
            if (parsedVersion != version) r.put("parsedAsVersion", (int) parsedVersion);
            if (buf.remaining() > 0) r.put("trailingBytes", buf.remaining());
            // Canonical encoding: Kafka's classes re-encode the parsed message to the same bytes.
            // Catches default-valued tagged fields, unknown tagged fields and similar.
            byte[] again = encode(msg, parsedVersion);
            byte[] got = Arrays.copyOfRange(body, start, body.length - buf.remaining());
            if (!Arrays.equals(again, got)) r.put("nonCanonicalEncoding", true);
            if (!msg.unknownTaggedFields().isEmpty()) r.put("unknownTaggedFields", msg.unknownTaggedFields().size());
            JsonNode json = writeResponse(key, msg, parsedVersion);
            if (msg instanceof FetchResponseData) decodeFetchRecords((FetchResponseData) msg, (ObjectNode) json);
            r.set("response", json);
        }
    }

    /** A raw request's header: as its version needs, or as the newest version's for a newer one. */
    static short rawHeaderVersion(Prepared p) {
        if (p.rawHeaderVersion >= 0) return p.rawHeaderVersion;
        if (!ApiKeys.hasId(p.rawApiKey)) return 1;
        ApiKeys k = ApiKeys.forId(p.rawApiKey);
        short v = k.isVersionSupported(p.rawVersion) ? p.rawVersion : k.latestVersion(true);
        return k.requestHeaderVersion(v);
    }

    static final class Prepared {
        short rawHeaderVersion = -1;
        ApiKeys key;
        short version;
        String clientId;
        ApiMessage request;
        short rawApiKey;
        short rawVersion;
        short rawParseVersion = -1;
        byte[] rawBody;
    }

    static ApiMessage parseBody(ApiKeys key, ByteBuffer buf, short version) {
        ApiMessage msg = key.messageType.newResponse();
        msg.read(new ByteBufferAccessor(buf), version);
        return msg;
    }

    static byte[] encode(Message msg, short version) {
        ObjectSerializationCache cache = new ObjectSerializationCache();
        int size = msg.size(cache, version);
        ByteBuffer out = ByteBuffer.allocate(size);
        msg.write(new ByteBufferAccessor(out), cache, version);
        return out.array();
    }

    static ApiKeys apiKey(String name) {
        for (ApiKeys k : ApiKeys.values()) {
            if (k.name.equals(name) || k.name().equals(name)) return k;
        }
        throw new IllegalArgumentException("unknown api " + name);
    }

    static String baseName(ApiKeys key) {
        // ApiMessageType names the data classes, e.g. Metadata -> MetadataRequestData.
        return key.name;
    }

    static ApiMessage readRequest(ApiKeys key, JsonNode json, short version) throws Exception {
        Class<?> dataClass = Class.forName(PKG + baseName(key) + "RequestData");
        Class<?> conv = Class.forName(PKG + baseName(key) + "RequestDataJsonConverter");
        JsonNode filled = fillDefaults(json, dataClass, conv, version);
        Method read = conv.getMethod("read", JsonNode.class, short.class);
        return (ApiMessage) read.invoke(null, filled, version);
    }

    static JsonNode writeResponse(ApiKeys key, ApiMessage msg, short version) {
        try {
            Class<?> conv = Class.forName(PKG + baseName(key) + "ResponseDataJsonConverter");
            Method write = conv.getMethod("write", msg.getClass(), short.class);
            return (JsonNode) write.invoke(null, msg, version);
        } catch (ReflectiveOperationException e) {
            throw new RuntimeException(e);
        }
    }

    /**
     * Kafka's JSON readers insist on every field the version has. Scenarios give only what
     * matters: the rest comes from a default instance of the same class written as JSON, and
     * arrays of structs get the same treatment element by element.
     */
    static JsonNode fillDefaults(JsonNode user, Class<?> dataClass, Class<?> conv, short version)
            throws Exception {
        if (!user.isObject()) return user;
        Object defaults = dataClass.getConstructor().newInstance();
        Method write = conv.getMethod("write", dataClass, short.class);
        ObjectNode out = (ObjectNode) write.invoke(null, defaults, version);
        Iterator<Map.Entry<String, JsonNode>> it = user.properties().iterator();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode value = e.getValue();
            Class<?> elem = null;
            Field f = findField(dataClass, name);
            if (f == null) throw new IllegalArgumentException(dataClass.getSimpleName() + " has no field " + name);
            // A field the message has, but not at this version: scenarios write one request for
            // several versions (e.g. Fetch's topic name before v13, topic id from v13).
            if (!out.has(name) && !inVersion(dataClass, name, version)) continue;
            elem = structType(f);
            if (elem != null && value.isArray()) {
                Class<?> elemConv = converterFor(conv, elem);
                ArrayNode arr = NF.arrayNode();
                for (JsonNode v : value) arr.add(fillDefaults(v, elem, elemConv, version));
                out.set(name, arr);
            } else if (elem != null && value.isObject()) {
                out.set(name, fillDefaults(value, elem, converterFor(conv, elem), version));
            } else {
                out.set(name, value);
            }
        }
        return out;
    }

    /** Whether the message's schema at this version has the field (tagged fields included). */
    static boolean inVersion(Class<?> dataClass, String name, short version) {
        try {
            Object[] schemas = (Object[]) dataClass.getField("SCHEMAS").get(null);
            if (version < 0 || version >= schemas.length || schemas[version] == null) return true;
            String want = name.toLowerCase(java.util.Locale.ROOT);
            for (org.apache.kafka.common.protocol.types.BoundField bf
                    : ((org.apache.kafka.common.protocol.types.Schema) schemas[version]).fields()) {
                if (bf.def.type instanceof org.apache.kafka.common.protocol.types.TaggedFields) {
                    Field tf = org.apache.kafka.common.protocol.types.TaggedFields.class.getDeclaredField("fields");
                    tf.setAccessible(true);
                    for (Object f : ((Map<?, ?>) tf.get(bf.def.type)).values()) {
                        String n = ((org.apache.kafka.common.protocol.types.Field) f).name;
                        if (n.replace("_", "").toLowerCase(java.util.Locale.ROOT).equals(want)) return true;
                    }
                } else if (bf.def.name.replace("_", "").toLowerCase(java.util.Locale.ROOT).equals(want)) {
                    return true;
                }
            }
            return false;
        } catch (ReflectiveOperationException | ClassCastException e) {
            return true;
        }
    }

    static Field findField(Class<?> c, String name) {
        try {
            return c.getDeclaredField(name);
        } catch (NoSuchFieldException e) {
            return null;
        }
    }

    /** The generated struct class a field holds (itself, or as list / collection element). */
    static Class<?> structType(Field f) {
        Type t = f.getGenericType();
        Class<?> raw = f.getType();
        if (Message.class.isAssignableFrom(raw)) return raw;
        if (t instanceof ParameterizedType) {
            Type arg = ((ParameterizedType) t).getActualTypeArguments()[0];
            if (arg instanceof Class && Message.class.isAssignableFrom((Class<?>) arg)) return (Class<?>) arg;
            return null;
        }
        Type sup = raw.getGenericSuperclass();
        if (sup instanceof ParameterizedType) {
            Type arg = ((ParameterizedType) sup).getActualTypeArguments()[0];
            if (arg instanceof Class && Message.class.isAssignableFrom((Class<?>) arg)) return (Class<?>) arg;
        }
        return null;
    }

    static Class<?> converterFor(Class<?> topConv, Class<?> elem) throws ClassNotFoundException {
        String top = topConv.getName();
        int dollar = top.indexOf('$');
        if (dollar >= 0) top = top.substring(0, dollar);
        return Class.forName(top + "$" + elem.getSimpleName() + "JsonConverter");
    }

    // ------------------------------------------------------------------------------------------
    // Record batches: {"$batches": [spec, ...]} anywhere in a request becomes the bytes.

    static JsonNode expandRecords(JsonNode node) throws Exception {
        if (node.isObject()) {
            if (node.has("$batches")) return new BinaryNode(buildBatches(node.get("$batches")));
            ObjectNode o = NF.objectNode();
            Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                o.set(e.getKey(), expandRecords(e.getValue()));
            }
            return o;
        }
        if (node.isArray()) {
            ArrayNode a = NF.arrayNode();
            for (JsonNode n : node) a.add(expandRecords(n));
            return a;
        }
        return node;
    }

    static byte[] buildBatches(JsonNode specs) throws Exception {
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (JsonNode spec : specs) all.write(buildBatch(spec));
        return all.toByteArray();
    }

    static long timestamp(JsonNode n, long dflt) {
        if (n == null || n.isMissingNode() || n.isNull()) return dflt;
        if (n.isNumber()) return n.asLong();
        String s = n.asText();
        long now = System.currentTimeMillis();
        if (s.equals("now")) return now;
        if (s.startsWith("now+")) return now + Long.parseLong(s.substring(4));
        if (s.startsWith("now-")) return now - Long.parseLong(s.substring(4));
        return Long.parseLong(s);
    }

    static byte[] bytesOf(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) return null;
        if (n.isObject() && n.has("size")) {
            byte[] b = new byte[n.get("size").asInt()];
            Arrays.fill(b, (byte) 'x');
            return b;
        }
        if (n.isObject() && n.has("hex")) return hex(n.get("hex").asText());
        return n.asText().getBytes(StandardCharsets.UTF_8);
    }

    static final long BASE_TIMESTAMP = 1_700_000_000_000L;

    static byte[] buildBatch(JsonNode spec) throws Exception {
        if (spec.has("hex")) return hex(spec.get("hex").asText());
        byte magic = (byte) spec.path("magic").asInt(2);
        CompressionType ctype = CompressionType.forName(spec.path("compression").asText("none"));
        Compression compression = Compression.of(ctype).build();
        TimestampType tt = spec.path("timestampType").asText("create").equalsIgnoreCase("logappend")
            ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME;
        long baseOffset = spec.path("baseOffset").asLong(0);
        long pid = spec.path("producerId").asLong(RecordBatch.NO_PRODUCER_ID);
        short epoch = (short) spec.path("producerEpoch").asInt(RecordBatch.NO_PRODUCER_EPOCH);
        int seq = spec.path("baseSequence").asInt(RecordBatch.NO_SEQUENCE);
        boolean txn = spec.path("transactional").asBoolean(false);
        int ple = spec.path("partitionLeaderEpoch").asInt(RecordBatch.NO_PARTITION_LEADER_EPOCH);

        List<SimpleRecord> records = new ArrayList<>();
        if (spec.has("gen")) {
            JsonNode g = spec.get("gen");
            int count = g.get("count").asInt();
            java.util.Set<Integer> nullKeys = new java.util.HashSet<>();
            for (JsonNode i : g.path("nullKeys")) nullKeys.add(i.asInt());
            int every = g.path("nullKeyEvery").asInt(0);
            long ts = timestamp(g.get("timestamp"), BASE_TIMESTAMP);
            int valueSize = g.path("valueSize").asInt(-1);
            String kp = g.path("keyPrefix").asText("k");
            String vp = g.path("valuePrefix").asText("v");
            for (int i = 0; i < count; i++) {
                byte[] key = nullKeys.contains(i) || (every > 0 && i % every == 0) ? null
                    : (kp + i).getBytes(StandardCharsets.UTF_8);
                byte[] value;
                if (valueSize >= 0) {
                    value = new byte[valueSize];
                    Arrays.fill(value, (byte) 'v');
                } else {
                    value = (vp + i).getBytes(StandardCharsets.UTF_8);
                }
                records.add(new SimpleRecord(ts + i, key, value));
            }
        }
        int i = 0;
        for (JsonNode r : spec.path("records")) {
            List<Header> headers = new ArrayList<>();
            for (JsonNode h : r.path("headers")) headers.add(new RecordHeader(h.get("key").asText(), bytesOf(h.get("value"))));
            long ts = timestamp(r.get("timestamp"), BASE_TIMESTAMP + i);
            records.add(new SimpleRecord(ts, bytesOf(r.get("key")), bytesOf(r.get("value")),
                headers.toArray(new Header[0])));
            i++;
        }
        long logAppendTime = tt == TimestampType.LOG_APPEND_TIME ? System.currentTimeMillis() : RecordBatch.NO_TIMESTAMP;
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(1024), magic, compression, tt,
            baseOffset, logAppendTime, pid, epoch, seq, txn, ple);
        for (SimpleRecord r : records) b.append(r);
        ByteBuffer built = b.build().buffer();
        byte[] bytes = new byte[built.remaining()];
        built.get(bytes);
        return patch(bytes, spec.path("patch"), magic);
    }

    /** Byte-level edits of a built batch, for batches Kafka's builders refuse to make. */
    static byte[] patch(byte[] bytes, JsonNode patch, byte magic) {
        if (patch.isMissingNode() || patch.isEmpty()) return bytes;
        ByteBuffer b = ByteBuffer.wrap(bytes);
        if (magic >= 2) {
            Object[][] fields = {
                {"baseOffset", 0, 8}, {"length", 8, 4}, {"partitionLeaderEpoch", 12, 4}, {"magic", 16, 1},
                {"attributes", 21, 2}, {"lastOffsetDelta", 23, 4}, {"baseTimestamp", 27, 8},
                {"maxTimestamp", 35, 8}, {"producerId", 43, 8}, {"producerEpoch", 51, 2},
                {"baseSequence", 53, 4}, {"recordsCount", 57, 4},
            };
            for (Object[] f : fields) {
                JsonNode v = patch.get((String) f[0]);
                if (v == null) continue;
                int off = (Integer) f[1];
                switch ((Integer) f[2]) {
                    case 1: b.put(off, (byte) v.asInt()); break;
                    case 2: b.putShort(off, (short) v.asInt()); break;
                    case 4: b.putInt(off, v.asInt()); break;
                    default: b.putLong(off, v.asLong()); break;
                }
            }
        }
        if (patch.has("truncate")) {
            bytes = Arrays.copyOf(bytes, bytes.length - patch.get("truncate").asInt());
            b = ByteBuffer.wrap(bytes);
        }
        String crc = patch.path("crc").asText("recompute");
        if (magic >= 2 && !crc.equals("keep")) {
            CRC32C c = new CRC32C();
            c.update(bytes, 21, bytes.length - 21);
            b.putInt(17, (int) c.getValue());
        }
        if (crc.equals("bad")) {
            int off = magic >= 2 ? 17 : 12;
            b.put(off, (byte) (b.get(off) ^ 0x5a));
        }
        return bytes;
    }

    // ------------------------------------------------------------------------------------------
    // Fetch responses: records shown batch by batch instead of as bytes.

    static void decodeFetchRecords(FetchResponseData data, ObjectNode json) {
        JsonNode responses = json.get("responses");
        for (int t = 0; t < data.responses().size(); t++) {
            FetchResponseData.FetchableTopicResponse topic = data.responses().get(t);
            for (int p = 0; p < topic.partitions().size(); p++) {
                ObjectNode pj = (ObjectNode) responses.get(t).get("partitions").get(p);
                pj.set("records", decodeRecords(topic.partitions().get(p).records()));
                pj.remove("recordsSizeInBytes");
            }
        }
    }

    static JsonNode decodeRecords(BaseRecords base) {
        if (base == null) return NF.nullNode();
        ObjectNode out = NF.objectNode();
        if (!(base instanceof MemoryRecords)) {
            out.put("unsupported", base.getClass().getName());
            return out;
        }
        MemoryRecords mr = (MemoryRecords) base;
        out.put("sizeInBytes", mr.sizeInBytes());
        ArrayNode batches = out.putArray("batches");
        int consumed = 0;
        try {
            for (MutableRecordBatch batch : mr.batches()) {
                ObjectNode bj = batches.addObject();
                consumed += batch.sizeInBytes();
                bj.put("baseOffset", batch.baseOffset());
                bj.put("lastOffset", batch.lastOffset());
                bj.put("magic", batch.magic());
                bj.put("sizeInBytes", batch.sizeInBytes());
                bj.put("crcValid", batch.isValid());
                bj.put("compression", batch.compressionType().name);
                bj.put("timestampType", batch.timestampType().name);
                bj.put("maxTimestamp", batch.maxTimestamp());
                bj.put("producerId", batch.producerId());
                bj.put("producerEpoch", batch.producerEpoch());
                bj.put("baseSequence", batch.baseSequence());
                bj.put("transactional", batch.isTransactional());
                bj.put("control", batch.isControlBatch());
                bj.put("partitionLeaderEpoch", batch.partitionLeaderEpoch());
                Integer count = batch.countOrNull();
                if (count != null) bj.put("count", count);
                ArrayNode rs = bj.putArray("records");
                try {
                    for (Record r : batch) {
                        ObjectNode rj = rs.addObject();
                        rj.put("offset", r.offset());
                        rj.put("timestamp", r.timestamp());
                        rj.set("key", show(r.key()));
                        rj.set("value", show(r.value()));
                        if (r.headers().length > 0) {
                            ArrayNode hs = rj.putArray("headers");
                            for (Header h : r.headers()) {
                                ObjectNode hj = hs.addObject();
                                hj.put("key", h.key());
                                hj.set("value", show(h.value() == null ? null : ByteBuffer.wrap(h.value())));
                            }
                        }
                    }
                } catch (RuntimeException e) {
                    bj.put("recordsError", describe(e));
                }
            }
        } catch (RuntimeException e) {
            out.put("batchesError", describe(e));
        }
        if (consumed < mr.sizeInBytes()) out.put("partialTrailingBytes", mr.sizeInBytes() - consumed);
        return out;
    }

    static JsonNode show(ByteBuffer b) {
        if (b == null) return NF.nullNode();
        byte[] bytes = new byte[b.remaining()];
        b.duplicate().get(bytes);
        if (bytes.length > 64) {
            try {
                MessageDigest d = MessageDigest.getInstance("SHA-256");
                return new TextNode("<" + bytes.length + " bytes sha256:" + hexOf(d.digest(bytes), 0, 8) + ">");
            } catch (Exception e) {
                return new TextNode("<" + bytes.length + " bytes>");
            }
        }
        try {
            return new TextNode(StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString());
        } catch (CharacterCodingException e) {
            return new TextNode("hex:" + hexOf(bytes, 0, bytes.length));
        }
    }

    static byte[] hex(String s) {
        s = s.replaceAll("\\s", "");
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return out;
    }

    static String hexOf(byte[] b, int off, int len) {
        StringBuilder sb = new StringBuilder();
        for (int i = off; i < off + len; i++) sb.append(String.format("%02x", b[i]));
        return sb.toString();
    }

    static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }
}
