using System.Globalization;
using System.Net;
using EdgeCache.ClusterTool;

// The namespaces cluster's test tooling (deploy/netns/README.md... see the repository README,
// "Running a cluster"). Every command prints a JSON summary and exits non-zero when what the
// clients or the origin saw breaks a promise.
const string Usage = """
    usage: EdgeCache.ClusterTool <command> [options]
      relay    --listen IP:PORT --delay-ms N [--mark M]
               transparent TCP relay: nftables DNATs a namespace's connections to other hosts here;
               each byte is forwarded N ms after it arrived, both ways (M: the socket mark of its own
               outgoing connections, which the DNAT rule skips; default 42)
      purges   --api URL --origin URL --edges URLS [--count N] [--name S] [--key K] [--host H] [--no-warm]
               [--allow-missing NODES] [--interval-ms M]
               [--timeout-ms T] [--deadline-s D] [--progress F] [--summary F] [--size S]
               N purges one after another: each bumps an object's version at the origin, purges it with
               wait (retrying a refused publication with the same Idempotency-Key), waits until it is
               complete (GET /purge/{id}) within D s, then reads it from every edge in URLS and fails on
               a pre-purge version. Objects are read through every edge first (unless --no-warm), so each
               is cached; M ms pass between purges. --allow-missing NODES: a purge whose wait ends missing only these (a host cut
               off or killed, until its membership entry expires) counts as complete for the live nodes
      warm     --edges URLS [--count N] [--name S] [--size S]
               reads the objects a later `purges --no-warm` purges through every edge
      verify   --summary F --edges URLS [--deadline-s D] [--require-ok] [--host H]
               reads every object of an earlier purges summary from URLS: fails at once on a version older
               than the purge's; with --require-ok polls until each is served (200) within D s
      reads    --edges URLS --origin URL [--objects N] [--name S] [--size S] [--concurrency C]
               [--stop-file F] [--duration-s D] [--strict URLS] [--summary F] [--host H] [--ready-file F]
               caches N objects on every edge, then reads them at random until F exists (or D s passed),
               counting per edge: ok, failed before the head, failed mid-body, wrong bytes; fails when a
               strict edge (default: all) failed or served wrong bytes. The origin's request count
               during the load is reported
      failover --warm-edge URL --edges URLS --origin URL --killed SHIELD [--objects N] [--name S] [--size S] [--replicas ADMINURLS]
               [--concurrency C] [--progress F] [--kill-file F] [--kill-wait-s W] [--ready-file F] [--summary F]
               reads N objects through the warm edge (stored there and at their owning shield, noted from
               Via), then each once through every edge in URLS, shuffled (edge misses, shield hits), writing
               the reads done to F every 250; the caller kills SHIELD meanwhile and writes the kill's Unix
               time in ms to the kill file (waited for W s after the load, default 30). Fails on a request
               that failed before its body, a non-200 or wrong bytes; reports mid-body failures apart, the
               switch (kill to the first of SHIELD's objects served by another shield; latencies), and the
               origin's requests during the load
    """;

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

var options = new Dictionary<string, string>(StringComparer.Ordinal);
var flags = new HashSet<string>(StringComparer.Ordinal);
for (var i = 1; i < args.Length; i++)
{
    var a = args[i];
    if (!a.StartsWith("--", StringComparison.Ordinal)) return Fail($"unexpected argument '{a}'");
    if (a is "--require-ok" or "--no-warm") { flags.Add(a); continue; }
    if (i + 1 >= args.Length) return Fail($"option '{a}' needs a value");
    options[a] = args[++i];
}

string Get(string name, string fallback) => options.TryGetValue(name, out var v) ? v : fallback;
int GetInt(string name, int fallback) => options.TryGetValue(name, out var v)
    ? int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{name} must be a positive integer (got '{v}')")
    : fallback;
string Required(string name) => options.TryGetValue(name, out var v) ? v.TrimEnd('/') : throw new ArgumentException($"{args[0]} needs {name}");
string[] Urls(string name) => [.. Required(name).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u => u.TrimEnd('/'))];

// Not disposed: SIGTERM (ProcessExit) may cancel it after Main has returned.
var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
try
{
    var host = Get("--host", "www.example.com");
    var key = Get("--key", Environment.GetEnvironmentVariable("PURGE_KEY") is { Length: > 0 } k ? k : "dev-purge-key-change-me");
    switch (args[0])
    {
        case "relay":
            var listen = IPEndPoint.Parse(Required("--listen"));
            await new DelayRelay(listen, TimeSpan.FromMilliseconds(GetInt("--delay-ms", 10)), GetInt("--mark", 42)).RunAsync(stop.Token);
            return 0;
        case "purges":
            return await new PurgeStream(Required("--api"), key, Required("--origin"), Urls("--edges"), host, Get("--size", "1k"), Get("--name", "p"), GetInt("--interval-ms", 1))
                .RunAsync(GetInt("--count", 50), GetInt("--timeout-ms", 2000), TimeSpan.FromSeconds(GetInt("--deadline-s", 60)), !flags.Contains("--no-warm"),
                    Get("--allow-missing", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), Get("--progress", ""), Get("--summary", ""), stop.Token);
        case "warm":
            return await new PurgeStream("", key, "", Urls("--edges"), host, Get("--size", "1k"), Get("--name", "p")).WarmAsync(GetInt("--count", 50), stop.Token);
        case "verify":
            return await PurgeStream.VerifyAsync(Required("--summary"), Urls("--edges"), host, flags.Contains("--require-ok"), TimeSpan.FromSeconds(GetInt("--deadline-s", 30)), stop.Token);
        case "reads":
            var edges = Urls("--edges");
            var strict = options.ContainsKey("--strict") ? Urls("--strict") : edges;
            return await new ReadLoad(edges, strict, Required("--origin"), host, Get("--size", "1k"), Get("--name", "r"), GetInt("--objects", 500))
                .RunAsync(GetInt("--concurrency", 16), Get("--stop-file", ""), TimeSpan.FromSeconds(GetInt("--duration-s", 600)), Get("--ready-file", ""), Get("--summary", ""), stop.Token);
        case "failover":
            return await new ShieldFailover(Required("--warm-edge"), Urls("--edges"), Required("--origin"), host, Get("--size", "16k"), Get("--name", "f"), GetInt("--objects", 10000), options.ContainsKey("--replicas") ? Urls("--replicas") : [])
                .RunAsync(GetInt("--concurrency", 16), Required("--killed"), Get("--progress", ""), Get("--kill-file", ""), TimeSpan.FromSeconds(GetInt("--kill-wait-s", 30)), Get("--ready-file", ""), Get("--summary", ""), stop.Token);
        default:
            return Fail($"unknown command '{args[0]}'");
    }
}
catch (ArgumentException ex)
{
    return Fail(ex.Message);
}

static int Fail(string message)
{
    Console.Error.WriteLine($"error: {message}\n{Usage}");
    return 2;
}
