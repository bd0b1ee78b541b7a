using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

// Purge benchmarks against the running local CDN (deploy/local/up.sh). See loadtest/README.md.
//   latency [--count N]     N sequential single-URL purges with wait:true: round-trip and propagation
//   tag [--objects N]       load N objects with one surrogate key into one edge, purge the key, check
//   soak [--duration S]     mixed reads and purges against the load origin (loadtest/soak.sh runs it)
//   nats [--count N]        the floor: NATS's own round trip and JetStream publication, no EdgeCache code
const string Usage = """
    usage: EdgeCache.PurgeBench [latency|tag|soak|nats] [options]
      latency          time N sequential purges of one URL each, with wait:true (the default mode)
      tag              load N objects carrying one surrogate key into one edge, then purge that key
      soak             readers over the edges (hot set and misses) while a purger bumps versions at the
                       load origin and purges them; fails on errors or a purged version served after
                       its purge returned
      nats             the floor under a purge: N core NATS PINGs and N JetStream publications into a
                       scratch stream no consumer reads, one at a time (no EdgeCache code in the path)
      --nats URL       nats: the server (default nats://127.0.0.1:4222)
      --duration S     soak: seconds (default 600)
      --concurrency N  soak: readers (default 32)
      --edges URLS     soak: comma-separated edges (default http://127.0.0.1:8081,http://127.0.0.1:8082)
      --origin URL     soak: the load origin (default http://127.0.0.1:8000)
      --restart-file F soak: a file holding the Unix ms of a shield restart (errors near it are counted apart)
      --summary F      soak: write the JSON summary there too
      --count N        latency: purges to time, after 20 warm-up purges (default 1000)
      --objects N      tag: objects to load (default 100000)
      --edge URL       the edge (default http://127.0.0.1:8081)
      --purge URL      the purge API (default http://127.0.0.1:8070)
      --key K          the purge key (default $PURGE_KEY, else dev-purge-key-change-me)
      --host H         Host of the objects and of the purged URLs (default www.example.com)
    """;

var mode = "latency";
var count = 1000;
var objects = 100_000;
var edge = "http://127.0.0.1:8081";
var purge = "http://127.0.0.1:8070";
var key = Environment.GetEnvironmentVariable("PURGE_KEY") is { Length: > 0 } k ? k : "dev-purge-key-change-me";
var host = "www.example.com";
var duration = 600;
var concurrency = 32;
var edges = "http://127.0.0.1:8081,http://127.0.0.1:8082";
var origin = "http://127.0.0.1:8000";
string? restartFile = null;
string? summaryFile = null;
var natsUrl = "nats://127.0.0.1:4222";
for (var i = 0; i < args.Length; i++)
{
    var a = args[i];
    if (a is "latency" or "tag" or "soak" or "nats") { mode = a; continue; }
    if (a is "-h" or "--help") { Console.WriteLine(Usage); return 0; }
    if (i + 1 >= args.Length || !a.StartsWith("--", StringComparison.Ordinal)) return Fail($"unknown argument '{a}'");
    var v = args[++i];
    switch (a)
    {
        case "--count" when int.TryParse(v, CultureInfo.InvariantCulture, out var n) && n > 0: count = n; break;
        case "--objects" when int.TryParse(v, CultureInfo.InvariantCulture, out var n) && n > 0: objects = n; break;
        case "--edge": edge = v.TrimEnd('/'); break;
        case "--purge": purge = v.TrimEnd('/'); break;
        case "--key": key = v; break;
        case "--host": host = v; break;
        case "--duration" when int.TryParse(v, CultureInfo.InvariantCulture, out var n) && n > 0: duration = n; break;
        case "--concurrency" when int.TryParse(v, CultureInfo.InvariantCulture, out var n) && n > 0: concurrency = n; break;
        case "--edges": edges = v; break;
        case "--origin": origin = v.TrimEnd('/'); break;
        case "--restart-file": restartFile = v; break;
        case "--summary": summaryFile = v; break;
        case "--nats": natsUrl = v; break;
        default: return Fail($"bad option '{a} {v}'");
    }
}

if (mode == "nats") return await NatsFloor.RunAsync(natsUrl, args.Contains("--count") ? count : 300);

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromSeconds(100) };
var bench = new Bench(http, edge, purge, key, host);
if (!await bench.ReachableAsync()) return 2;
try
{
    if (mode == "soak")
    {
        var soak = new Soak(http, [.. edges.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(e => e.TrimEnd('/'))], origin, purge, key, host);
        return await soak.RunAsync(TimeSpan.FromSeconds(duration), concurrency, restartFile, summaryFile);
    }

    return mode == "tag" ? await bench.TagAsync(objects) : await bench.LatencyAsync(count);
}
catch (HttpRequestException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 2;
}

static int Fail(string message)
{
    Console.Error.WriteLine($"error: {message}\n{Usage}");
    return 2;
}

/// <summary>One purge's answer: client round-trip, whether every node applied it, and the slowest node's ms.</summary>
internal sealed record PurgeResult(double RoundTripMs, bool Complete, double PropagationMs, string[] Acked, string[] Missing, string Body);

internal sealed class Bench(HttpClient http, string edge, string purge, string key, string host)
{
    private const int WarmUp = 20;
    private const int Samples = 100;
    private int _rateLimited;
    private string? _rateLimitedBody;

    /// <summary>The purge API must be ready and the edge must answer; otherwise a clear message.</summary>
    public async Task<bool> ReachableAsync()
    {
        foreach (var (what, url, viaHost) in new[] { ("purge API", purge + "/readyz", false), ("edge", edge + "/hello", true) })
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                if (viaHost) request.Headers.Host = host;
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var response = await http.SendAsync(request, cts.Token);
                if (what == "purge API" && !response.IsSuccessStatusCode)
                {
                    var body = await response.Content.ReadAsStringAsync(cts.Token);
                    Console.Error.WriteLine($"error: the purge API at {purge} is not ready ({(int)response.StatusCode}): {body.Trim()}");
                    return false;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                Console.Error.WriteLine($"error: the {what} at {url} is unreachable: {ex.Message}");
                Console.Error.WriteLine("       is the local CDN running? (deploy/local/up.sh)");
                return false;
            }
        }

        return true;
    }

    public async Task<int> LatencyAsync(int count)
    {
        Console.WriteLine($"latency: {count} sequential purges (after {WarmUp} warm-up), one URL each, wait:true, timeoutMs 5000");
        for (var i = 0; i < WarmUp; i++) await PurgeUrlAsync($"purge-bench-warmup-{i}");

        var results = new List<PurgeResult>(count);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            var r = await PurgeUrlAsync($"purge-bench-{i}");
            results.Add(r);
            if (!r.Complete) Console.Error.WriteLine($"incomplete purge #{i}: {r.Body}");
            if ((i + 1) % 200 == 0) Console.Error.WriteLine($"  {i + 1}/{count}");
        }

        var wall = Stopwatch.GetElapsedTime(started);
        var complete = results.Where(r => r.Complete).ToList();
        var nodes = results.SelectMany(r => r.Acked).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var incomplete = results.Count - complete.Count;

        Console.WriteLine();
        Console.WriteLine($"Purge latency: {count} purges, {purge}, host {host}, {wall.TotalSeconds:F1} s wall");
        Console.WriteLine();
        Console.WriteLine("| ms                                     |     p50 |     p90 |     p99 |     max |");
        Console.WriteLine("|----------------------------------------|--------:|--------:|--------:|--------:|");
        Console.WriteLine(Row("client round-trip (all)", results.Select(r => r.RoundTripMs)));
        Console.WriteLine(Row("propagation, max acked[].ms (complete)", complete.Select(r => r.PropagationMs)));
        Console.WriteLine();
        Console.WriteLine($"nodes acked:  {nodes.Length} ({string.Join(", ", nodes)})");
        Console.WriteLine($"incomplete:   {incomplete} of {count}");
        PrintRateLimited();
        return incomplete == 0 ? 0 : 1;
    }

    public async Task<int> TagAsync(int objects)
    {
        var runTag = "bench-" + DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmssfff", CultureInfo.InvariantCulture);
        Console.WriteLine($"tag: loading {objects} objects /obj/1k/t<i>?tag={runTag} into {edge} (Host {host}), concurrency 64");

        var errors = 0;
        string? firstError = null;
        var done = 0;
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, objects), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            try
            {
                using var response = await GetAsync(i, runTag, ct);
                await response.Content.CopyToAsync(Stream.Null, ct);
                if (response.StatusCode != HttpStatusCode.OK) throw new HttpRequestException($"GET t{i} answered {(int)response.StatusCode}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                Interlocked.Increment(ref errors);
                Interlocked.CompareExchange(ref firstError, ex.Message, null);
            }

            if (Interlocked.Increment(ref done) % 10_000 == 0) Console.Error.WriteLine($"  {done}/{objects}  {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
        });
        var load = Stopwatch.GetElapsedTime(started);
        if (firstError is not null) Console.Error.WriteLine($"load errors: {errors}, the first: {firstError}");

        var sample = Enumerable.Range(0, objects).OrderBy(_ => Random.Shared.Next()).Take(Samples).ToArray();
        var hitsBefore = await CountEdgeHitsAsync(sample, runTag);

        // The client's first purge pays for its own start (a new connection, the JSON serializer's first
        // use): a few URL purges, not timed, so the tag purge's round trip is the API's and the nodes'.
        for (var i = 0; i < 5; i++) await PurgeUrlAsync($"tag-bench-warmup-{i}");
        var p = await PurgeAsync(new { tags = new[] { runTag }, wait = true, timeoutMs = 30000 });
        if (!p.Complete) Console.Error.WriteLine($"incomplete tag purge: {p.Body}");
        var hitsAfter = await CountEdgeHitsAsync(sample, runTag);

        Console.WriteLine();
        Console.WriteLine($"Tag purge: {objects} objects on {edge}, tag {runTag}");
        Console.WriteLine();
        Console.WriteLine("| tag purge                          |                                    |");
        Console.WriteLine("|------------------------------------|------------------------------------|");
        Console.WriteLine($"| objects loaded                     | {objects - errors} of {objects} ({errors} errors) |");
        Console.WriteLine($"| load time                          | {load.TotalSeconds:F1} s ({objects / load.TotalSeconds:F0} req/s, concurrency 64) |");
        Console.WriteLine($"| samples that were edge hits before | {hitsBefore} of {sample.Length} |");
        Console.WriteLine($"| purge round-trip                   | {p.RoundTripMs:F1} ms |");
        Console.WriteLine($"| propagation (max acked[].ms)       | {p.PropagationMs:F1} ms, {(p.Complete ? "complete" : "INCOMPLETE, missing " + string.Join(", ", p.Missing))}, {p.Acked.Length} nodes acked |");
        Console.WriteLine($"| samples still edge hits after      | {hitsAfter} of {sample.Length} (must be 0) |");
        PrintRateLimited();
        return hitsAfter == 0 && p.Complete && hitsBefore > 0 ? 0 : 1;
    }

    private async Task<HttpResponseMessage> GetAsync(int i, string runTag, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{edge}/obj/1k/t{i}?tag={runTag}");
        request.Headers.Host = host;
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
    }

    /// <summary>How many of <paramref name="sample"/> the edge answers as hits (its own Cache-Status member says "hit").</summary>
    private async Task<int> CountEdgeHitsAsync(int[] sample, string runTag)
    {
        var hits = 0;
        foreach (var i in sample)
        {
            using var response = await GetAsync(i, runTag, CancellationToken.None);
            await response.Content.CopyToAsync(Stream.Null);
            var members = response.Headers.TryGetValues("Cache-Status", out var values) ? values.SelectMany(v => v.Split(',')) : [];
            var edgeMember = members.Select(m => m.Trim()).LastOrDefault(m => m.StartsWith("EdgeCache-Edge", StringComparison.Ordinal)) ?? "";
            if (edgeMember.Contains("hit", StringComparison.Ordinal)) hits++;
        }

        return hits;
    }

    private Task<PurgeResult> PurgeUrlAsync(string name) =>
        PurgeAsync(new { urls = new[] { $"http://{host}/obj/1k/{name}" }, wait = true, timeoutMs = 5000 });

    /// <summary>POST /purge; a 429 (the key's rate limit) is waited out and retried, not timed.</summary>
    private async Task<PurgeResult> PurgeAsync(object body)
    {
        var json = JsonSerializer.Serialize(body);
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, purge + "/purge") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var started = Stopwatch.GetTimestamp();
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                _rateLimited++;
                _rateLimitedBody ??= text;
                await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                continue;
            }

            if (!response.IsSuccessStatusCode) throw new HttpRequestException($"POST {purge}/purge answered {(int)response.StatusCode}: {text}");

            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            var acked = root.GetProperty("acked").EnumerateArray().Select(a => (Node: a.GetProperty("node").GetString() ?? "", Ms: a.GetProperty("ms").GetDouble())).ToArray();
            var missing = root.GetProperty("missing").EnumerateArray().Select(m => m.GetString() ?? "").ToArray();
            return new PurgeResult(ms, root.GetProperty("complete").GetBoolean(), acked.Length == 0 ? 0 : acked.Max(a => a.Ms), [.. acked.Select(a => a.Node)], missing, text);
        }
    }

    private void PrintRateLimited()
    {
        if (_rateLimited == 0) return;
        Console.WriteLine($"rate-limited: {_rateLimited} answers 429 from the purge API, waited out (Retry-After) and retried, not timed");
        Console.WriteLine($"              the first: {_rateLimitedBody}");
    }

    internal static string Row(string name, IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        string P(double q) => sorted.Length == 0 ? "-" : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)].ToString("F2", CultureInfo.InvariantCulture);
        return $"| {name,-38} | {P(0.50),7} | {P(0.90),7} | {P(0.99),7} | {P(1.0),7} |";
    }
}
