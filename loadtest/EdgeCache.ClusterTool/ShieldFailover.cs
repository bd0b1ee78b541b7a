using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeCache.ClusterTool;

/// <summary>
/// A shield killed under a read load over cached objects, seen from the clients and the origin. The
/// objects are first read through one edge (the warm edge), so each is stored there and at the shield
/// that owns it (the edges' consistent hash); the shield that served each is noted from <c>Via</c>. The
/// load then reads every object once through each of the other edges, in a shuffled order: every read is
/// an edge miss that goes to a shield, so every read after the kill whose owner was the killed shield
/// must fail over. The killing is the caller's (deploy/netns/faults.sh): it waits for the progress file,
/// kills the shield and writes the kill's time (Unix milliseconds) to the kill file. Reported:
/// <list type="bullet">
/// <item>failures told apart by when they happened: before the response head (a failed request) or
/// mid-body (a response cut at the kill), and wrong bytes (SHA-256 against the origin's);</item>
/// <item>the switch: from the kill to the first of the killed shield's objects served by another
/// shield, and the latency of its objects' reads around the kill;</item>
/// <item>the origin's requests during the load (the extra ones: cold fills at the shields taking over).</item>
/// </list>
/// Fails on a request that failed before its body started, on a non-200 or wrong bytes, or when none of
/// the killed shield's objects was read after the kill (the test did not test).
/// </summary>
internal sealed class ShieldFailover(string warmEdge, string[] edges, string origin, string host, string size, string name, int objects, string[] replicas)
{
    private readonly HttpClient _http = Http.Create();

    private sealed record Read(int Object, string Edge, long StartMs, long EndMs, string Outcome, string? Shield, string? Detail);

    public async Task<int> RunAsync(int concurrency, string killedShield, string progressFile, string killFile, TimeSpan killWait, string readyFile, string summaryFile, CancellationToken ct)
    {
        var paths = Enumerable.Range(0, objects).Select(i => $"/obj/{size}/{name}{i}").ToArray();
        var expected = new byte[paths.Length][];
        var owner = new string?[paths.Length];
        var pushesBefore = replicas.Length > 0 ? await PushesAsync(ct) : null;
        var warmed = Stopwatch.StartNew();
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, paths.Length), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct }, async (i, token) =>
            {
                var (status, _, body) = await Http.GetAsync(_http, origin, host, paths[i], token);
                if (status != HttpStatusCode.OK) throw new HttpRequestException($"the origin answered {(int)status} for {paths[i]}");
                expected[i] = SHA256.HashData(body);
                using var request = new HttpRequestMessage(HttpMethod.Get, warmEdge + paths[i]);
                request.Headers.Host = host;
                using var response = await _http.SendAsync(request, token);
                var b = await response.Content.ReadAsByteArrayAsync(token);
                if (response.StatusCode != HttpStatusCode.OK) throw new HttpRequestException($"warm-up: {warmEdge}{paths[i]} answered {(int)response.StatusCode}");
                if (!SHA256.HashData(b).AsSpan().SequenceEqual(expected[i])) throw new HttpRequestException($"warm-up: {warmEdge}{paths[i]} served other bytes than the origin's");
                owner[i] = ShieldOf(response);
            });
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.WriteLine(new JsonObject { ["problems"] = new JsonArray(ex.Message) }.ToJsonString());
            return 1;
        }

        var warmSeconds = warmed.Elapsed.TotalSeconds;
        var owned = owner.Count(o => o == killedShield);
        if (owned == 0)
        {
            Console.WriteLine(new JsonObject { ["problems"] = new JsonArray($"no object was owned by {killedShield} (owners seen: {string.Join(", ", owner.Distinct())})") }.ToJsonString());
            return 1;
        }

        // Shields that replicate (--replicas, their admin URLs): every object fetched from the origin is pushed to its
        // second home; the load starts once the shields have settled every push (so all of the objects are replicated).
        JsonObject? pushes = null;
        if (replicas.Length > 0)
        {
            var settle = Stopwatch.StartNew();
            Dictionary<string, long> seen = [];
            while (true)
            {
                seen = await PushesAsync(ct);
                foreach (var (outcome, count) in pushesBefore!) seen[outcome] = seen.GetValueOrDefault(outcome) - count;
                var settled = seen.Values.Sum();
                if (settled >= objects) break;
                if (settle.Elapsed > TimeSpan.FromSeconds(120))
                {
                    Console.WriteLine(new JsonObject { ["problems"] = new JsonArray($"the shields settled {settled} pushes of {objects} objects in 120 s") }.ToJsonString());
                    return 1;
                }

                await Task.Delay(200, ct);
            }

            pushes = new JsonObject { ["settledSeconds"] = Math.Round(settle.Elapsed.TotalSeconds, 1) };
            foreach (var (outcome, count) in seen) pushes[outcome] = count;
        }

        // Every (edge, object) once, shuffled: edge misses only, each a shield's hit (or, after the kill, a failover).
        var order = edges.SelectMany(e => Enumerable.Range(0, paths.Length).Select(i => (Edge: e, Object: i))).ToArray();
        new Random(21).Shuffle(order);
        var originBefore = await OriginRequestsAsync(ct);
        if (readyFile.Length > 0) await File.WriteAllTextAsync(readyFile, "ready", ct);

        var epoch = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var clock = Stopwatch.StartNew();
        var reads = new Read[order.Length];
        var next = -1;
        var done = 0;
        var readers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int n;
            while ((n = Interlocked.Increment(ref next)) < order.Length && !ct.IsCancellationRequested)
            {
                var (edge, i) = order[n];
                reads[n] = await ReadOneAsync(edge, i, paths[i], expected[i], clock, ct);
                var count = Interlocked.Increment(ref done);
                if (progressFile.Length > 0 && count % 250 == 0) await File.WriteAllTextAsync(progressFile, count.ToString(CultureInfo.InvariantCulture), CancellationToken.None);
            }
        })).ToArray();
        await Task.WhenAll(readers);
        var loadSeconds = clock.Elapsed.TotalSeconds;

        // The kill's time, on the reads' clock (the caller wrote it right before the SIGKILL).
        long? killMs = null;
        var killWaitEnds = Stopwatch.StartNew();
        while (killFile.Length > 0 && killWaitEnds.Elapsed < killWait)
        {
            if (File.Exists(killFile) && long.TryParse((await File.ReadAllTextAsync(killFile, CancellationToken.None)).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var unixMs))
            {
                killMs = unixMs - epoch;
                break;
            }

            await Task.Delay(100, CancellationToken.None);
        }

        var originAfter = await OriginRequestsAsync(CancellationToken.None);
        var problems = new JsonArray();
        var all = reads.Where(r => r is not null).ToArray();
        var failedBeforeHead = all.Where(r => r.Outcome == "failed-before-head").ToArray();
        var midBody = all.Where(r => r.Outcome == "failed-mid-body").ToArray();
        var notOk = all.Where(r => r.Outcome == "not-ok").ToArray();
        var wrong = all.Where(r => r.Outcome == "wrong-bytes").ToArray();
        if (all.Length != order.Length) problems.Add($"{order.Length - all.Length} reads never ran");
        if (failedBeforeHead.Length > 0) problems.Add($"{failedBeforeHead.Length} requests failed before their response head (first: {failedBeforeHead[0].Edge}{paths[failedBeforeHead[0].Object]}: {failedBeforeHead[0].Detail})");
        if (notOk.Length > 0) problems.Add($"{notOk.Length} requests were answered with an error (first: {notOk[0].Edge}{paths[notOk[0].Object]}: {notOk[0].Detail})");
        if (wrong.Length > 0) problems.Add($"{wrong.Length} responses had other bytes than the origin's");
        if (replicas.Length > 0 && originAfter - originBefore > 0) problems.Add($"the origin was asked {originAfter - originBefore} times during the load, with every object replicated before it");

        var summary = new JsonObject
        {
            ["objects"] = objects,
            ["size"] = size,
            ["killed"] = killedShield,
            ["ownedByKilled"] = owned,
            ["owners"] = new JsonObject(owner.GroupBy(o => o ?? "(unknown)").OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => KeyValuePair.Create(g.Key, (JsonNode?)g.Count()))),
            ["warmSeconds"] = Math.Round(warmSeconds, 1),
            ["reads"] = all.Length,
            ["loadSeconds"] = Math.Round(loadSeconds, 1),
            ["ok"] = all.Count(r => r.Outcome == "ok"),
            ["failedBeforeHead"] = failedBeforeHead.Length,
            ["failedMidBody"] = midBody.Length,
            ["notOk"] = notOk.Length,
            ["wrongBytes"] = wrong.Length,
            ["originRequestsDuringLoad"] = originAfter - originBefore,
            ["replication"] = pushes,
        };

        if (killMs is not { } kill)
        {
            problems.Add("the shield was not killed during the load (no kill time)");
        }
        else
        {
            // The killed shield's objects read after the kill (started after it): each went to another shield.
            var after = all.Where(r => owner[r.Object] == killedShield && r.StartMs >= kill).OrderBy(r => r.EndMs).ToArray();
            var inFlight = all.Where(r => r.StartMs < kill && r.EndMs >= kill).ToArray();
            var firstElsewhere = after.FirstOrDefault(r => r.Outcome == "ok" && r.Shield is { } s && s != killedShield);
            var servedByKilled = all.Count(r => r.StartMs >= kill + 1000 && r.Shield == killedShield);
            if (after.Length == 0) problems.Add($"none of {killedShield}'s objects was read after the kill: it ended too late in the load");
            if (servedByKilled > 0) problems.Add($"{servedByKilled} reads started a second or more after the kill were served by {killedShield}, which was killed");
            var coldAfter = after.Where(r => r.Outcome == "ok").Select(r => r.Object).Distinct().Count();
            var coldBefore = all.Where(r => owner[r.Object] == killedShield && r.StartMs < kill).Select(r => r.Object).Distinct().Count();
            summary["killAtMs"] = kill;
            summary["readsDoneAtKill"] = all.Count(r => r.EndMs < kill);
            summary["inFlightAtKill"] = new JsonObject
            {
                ["reads"] = inFlight.Length,
                ["ok"] = inFlight.Count(r => r.Outcome == "ok"),
                ["failedMidBody"] = inFlight.Count(r => r.Outcome == "failed-mid-body"),
                ["failedBeforeHead"] = inFlight.Count(r => r.Outcome == "failed-before-head"),
            };
            summary["switch"] = new JsonObject
            {
                // From the kill to the first of its objects served whole by another shield.
                ["firstServedElsewhereMs"] = firstElsewhere is null ? null : firstElsewhere.EndMs - kill,
                ["firstServedBy"] = firstElsewhere?.Shield,
                ["readsOfItsObjectsAfterKill"] = after.Length,
                ["latencyMsFirstSecond"] = Latency(after.Where(r => r.StartMs < kill + 1000)),
                ["latencyMsLater"] = Latency(after.Where(r => r.StartMs >= kill + 1000)),
                ["latencyMsOthersBeforeKill"] = Latency(all.Where(r => r.StartMs < kill - 100 && r.EndMs < kill)),
            };
            // Without replication each of the killed shield's objects first read after the kill is cold at its new
            // owner, so the origin is asked once per such object; with it, the new owner holds a copy already.
            summary["itsObjectsFirstReadAfterKill"] = coldAfter;
            summary["itsObjectsAlsoReadBeforeKill"] = coldBefore;
        }

        summary["problems"] = problems;
        var json = summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (summaryFile.Length > 0) await File.WriteAllTextAsync(summaryFile, json, CancellationToken.None);
        Console.WriteLine(json);
        return problems.Count == 0 ? 0 : 1;
    }

    private static JsonObject Latency(IEnumerable<Read> reads)
    {
        var ms = reads.Select(r => (double)(r.EndMs - r.StartMs)).ToList();
        return new JsonObject
        {
            ["n"] = ms.Count,
            ["p50"] = ms.Count == 0 ? null : Http.Percentile(ms, 50),
            ["p99"] = ms.Count == 0 ? null : Http.Percentile(ms, 99),
            ["max"] = ms.Count == 0 ? null : ms.Max(),
        };
    }

    /// <summary>The shield a response came through: the last shield in <c>Via</c> (<c>1.1 shield-2, 1.1 edge-1</c>; a copy
    /// a shield filled from its peer keeps the peer's entry before its own: <c>1.1 shield-2, 1.1 shield-3, 1.1 edge-1</c>).</summary>
    private static string? ShieldOf(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Via", out var values)) return null;
        string? shield = null;
        foreach (var entry in string.Join(", ", values).Split(',', StringSplitOptions.TrimEntries))
        {
            var parts = entry.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && parts[1].StartsWith("shield", StringComparison.Ordinal)) shield = parts[1];
        }

        return shield;
    }

    private async Task<Read> ReadOneAsync(string edge, int i, string path, byte[] expected, Stopwatch clock, CancellationToken ct)
    {
        var start = clock.ElapsedMilliseconds;
        var headSeen = false;
        string? shield = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, edge + path);
            request.Headers.Host = host;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            headSeen = true;
            shield = ShieldOf(response);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            var outcome = response.StatusCode != HttpStatusCode.OK ? "not-ok" : SHA256.HashData(body).AsSpan().SequenceEqual(expected) ? "ok" : "wrong-bytes";
            return new Read(i, edge, start, clock.ElapsedMilliseconds, outcome, shield, outcome == "not-ok" ? ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture) : null);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            return new Read(i, edge, start, clock.ElapsedMilliseconds, headSeen ? "failed-mid-body" : "failed-before-head", shield, ex.Message);
        }
    }

    /// <summary>The shields' settled pushes (<c>edgecache_replication_pushes_total</c>) summed over --replicas, by outcome.</summary>
    private async Task<Dictionary<string, long>> PushesAsync(CancellationToken ct)
    {
        var byOutcome = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var admin in replicas)
        {
            var text = await _http.GetStringAsync(admin + "/metrics", ct);
            foreach (var line in text.Split('\n'))
            {
                if (!line.StartsWith("edgecache_replication_pushes_total{", StringComparison.Ordinal)) continue;
                var at = line.IndexOf("outcome=\"", StringComparison.Ordinal);
                var space = line.LastIndexOf(' ');
                if (at < 0 || space < 0) continue;
                var outcome = line[(at + 9)..line.IndexOf('"', at + 9)];
                if (double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) byOutcome[outcome] = byOutcome.GetValueOrDefault(outcome) + (long)v;
            }
        }

        return byOutcome;
    }

    private async Task<long> OriginRequestsAsync(CancellationToken ct)
    {
        var text = await _http.GetStringAsync(origin + "/__origin/stats?paths=0", ct);
        return (long)JsonNode.Parse(text)!["requests"]!;
    }
}
