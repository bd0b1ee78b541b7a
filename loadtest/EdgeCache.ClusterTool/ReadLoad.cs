using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeCache.ClusterTool;

/// <summary>
/// Readers over a set of cached objects spread across the edges. Each response is checked
/// against the origin's own bytes; failures are told apart by when they happened: before the
/// response head (the request failed) or after it (cut mid-body).
/// </summary>
internal sealed class ReadLoad(string[] edges, string[] strict, string origin, string host, string size, string name, int objects)
{
    private readonly HttpClient _http = Http.Create();

    private sealed class EdgeCounters
    {
        public long Ok;
        public long NotOk;
        public long FailedBeforeHead;
        public long FailedMidBody;
        public long WrongBytes;
        public string? FirstFailure;
    }

    public async Task<int> RunAsync(int concurrency, string stopFile, TimeSpan duration, string readyFile, string summaryFile, CancellationToken ct)
    {
        var paths = Enumerable.Range(0, objects).Select(i => $"/obj/{size}/{name}{i}").ToArray();
        var expected = new byte[paths.Length][];
        try
        {
            await WarmAsync(paths, expected, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.WriteLine(new JsonObject { ["problems"] = new JsonArray(ex.Message) }.ToJsonString());
            return 1;
        }

        var originBefore = await OriginRequestsAsync(ct);
        if (readyFile.Length > 0) await File.WriteAllTextAsync(readyFile, originBefore.ToString(System.Globalization.CultureInfo.InvariantCulture), ct);
        var counters = edges.ToDictionary(e => e, _ => new EdgeCounters(), StringComparer.Ordinal);
        var started = Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var readers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            var n = w;
            while (!stop.IsCancellationRequested)
            {
                var edge = edges[n++ % edges.Length];
                var i = random.Next(paths.Length);
                await ReadOneAsync(edge, paths[i], expected[i], counters[edge], stop.Token);
            }
        })).ToArray();

        while (Stopwatch.GetElapsedTime(started) < duration && !(stopFile.Length > 0 && File.Exists(stopFile)) && !ct.IsCancellationRequested)
        {
            await Task.Delay(100, CancellationToken.None);
        }

        await stop.CancelAsync();
        await Task.WhenAll(readers);
        var originAfter = await OriginRequestsAsync(CancellationToken.None);

        var problems = new JsonArray();
        var perEdge = new JsonObject();
        foreach (var (edge, c) in counters)
        {
            perEdge[edge] = new JsonObject
            {
                ["ok"] = c.Ok,
                ["notOk"] = c.NotOk,
                ["failedBeforeHead"] = c.FailedBeforeHead,
                ["failedMidBody"] = c.FailedMidBody,
                ["wrongBytes"] = c.WrongBytes,
                ["firstFailure"] = c.FirstFailure,
            };
            if (c.WrongBytes > 0) problems.Add($"{edge} served {c.WrongBytes} responses with other bytes than the origin's");
            if (strict.Contains(edge) && c.NotOk + c.FailedBeforeHead + c.FailedMidBody > 0)
            {
                problems.Add($"{edge} failed {c.NotOk + c.FailedBeforeHead + c.FailedMidBody} reads (first: {c.FirstFailure})");
            }

            if (c.Ok == 0 && strict.Contains(edge)) problems.Add($"{edge} served no reads");
        }

        var summary = new JsonObject
        {
            ["seconds"] = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 1),
            ["objects"] = objects,
            ["originRequestsDuringLoad"] = originAfter - originBefore,
            ["edges"] = perEdge,
            ["problems"] = problems,
        };
        var json = summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (summaryFile.Length > 0) await File.WriteAllTextAsync(summaryFile, json, CancellationToken.None);
        Console.WriteLine(json);
        return problems.Count == 0 ? 0 : 1;
    }

    private Task WarmAsync(string[] paths, byte[][] expected, CancellationToken ct) =>
        Parallel.ForEachAsync(Enumerable.Range(0, paths.Length), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (i, token) =>
        {
            var (status, _, body) = await Http.GetAsync(_http, origin, host, paths[i], token);
            if (status != HttpStatusCode.OK) throw new HttpRequestException($"the origin answered {(int)status} for {paths[i]}");
            expected[i] = SHA256.HashData(body);
            foreach (var edge in edges)
            {
                var (s, _, b) = await Http.GetAsync(_http, edge, host, paths[i], token);
                if (s != HttpStatusCode.OK) throw new HttpRequestException($"warm-up: {edge}{paths[i]} answered {(int)s}");
                if (!SHA256.HashData(b).AsSpan().SequenceEqual(expected[i])) throw new HttpRequestException($"warm-up: {edge}{paths[i]} served other bytes than the origin's");
            }
        });

    private async Task ReadOneAsync(string edge, string path, byte[] expected, EdgeCounters c, CancellationToken ct)
    {
        var headSeen = false;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, edge + path);
            request.Headers.Host = host;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            headSeen = true;
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Interlocked.Increment(ref c.NotOk);
                c.FirstFailure ??= $"{path}: {(int)response.StatusCode}";
            }
            else if (!SHA256.HashData(body).AsSpan().SequenceEqual(expected))
            {
                Interlocked.Increment(ref c.WrongBytes);
            }
            else
            {
                Interlocked.Increment(ref c.Ok);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            if (ct.IsCancellationRequested) return; // the load stopping, not a failure
            Interlocked.Increment(ref headSeen ? ref c.FailedMidBody : ref c.FailedBeforeHead);
            c.FirstFailure ??= $"{path}: {(headSeen ? "mid-body: " : "")}{ex.Message}";
        }
    }

    private async Task<long> OriginRequestsAsync(CancellationToken ct)
    {
        var text = await _http.GetStringAsync(origin + "/__origin/stats?paths=0", ct);
        return (long)JsonNode.Parse(text)!["requests"]!;
    }
}
