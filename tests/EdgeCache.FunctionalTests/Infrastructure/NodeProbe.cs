using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// What an operator sees of one node: its admin endpoint's <c>/status.json</c> and <c>/healthz</c>, and the
/// values of the metric instruments its <c>/metrics</c> exports. Tests assert through these rather than
/// through the engine's members, so they hold the node to what it reports.
/// </summary>
internal static class NodeProbe
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

    public static Uri AdminUri(this WebApplication node) => node.Services.GetRequiredService<NodeEndpoints>().AdminUri!;

    /// <summary>The node's <c>/status.json</c>.</summary>
    public static async Task<JsonNode> StatusAsync(this WebApplication node) =>
        JsonNode.Parse(await Client.GetStringAsync(new Uri(node.AdminUri(), "/status.json")))!;

    /// <summary>One value of <c>/status.json</c> by its path (<c>"totals", "fast_hits"</c>, say).</summary>
    public static async Task<T> StatusValueAsync<T>(this WebApplication node, params string[] path)
    {
        var value = (await node.StatusAsync()).Path(path) ?? throw new InvalidOperationException("/status.json has no " + string.Join('.', path));
        return value.GetValue<T>();
    }

    /// <summary>Fast hits this node answered (<c>/status.json</c> <c>totals.fast_hits</c>).</summary>
    public static Task<long> FastHitsAsync(this WebApplication node) => node.StatusValueAsync<long>("totals", "fast_hits");

    /// <summary>The last invalidation-stream sequence this node applied (<c>/status.json</c> <c>invalidation.appliedSeq</c>).</summary>
    public static Task<ulong> AppliedSeqAsync(this WebApplication node) => node.StatusValueAsync<ulong>("invalidation", "appliedSeq");

    /// <summary>The node's <c>/healthz</c> text.</summary>
    public static Task<string> HealthAsync(this WebApplication node) => Client.GetStringAsync(new Uri(node.AdminUri(), "/healthz"));

    /// <summary>
    /// The current value of one of the node's observable metric instruments (<c>edgecache.requests.collapsed</c>,
    /// say; summed over its tag sets), as its <c>/metrics</c> exports it. Read from the node's own meters: every
    /// node in the test process exports under the same meter name, and a scrape of <c>/metrics</c> cannot tell
    /// which node a series came from.
    /// </summary>
    public static long Metric(this WebApplication node, string instrument, params (string Key, string Value)[] tags)
    {
        var meters = node.Services.GetRequiredService<IMeterFactory>();
        long? total = null;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == "EdgeCache" && ReferenceEquals(i.Meter.Scope, meters) && i.Name == instrument) l.EnableMeasurementEvents(i);
        };
        // Only the tag sets that carry every one of tags (all of them when none is given).
        bool Selected(ReadOnlySpan<KeyValuePair<string, object?>> measured)
        {
            foreach (var (key, value) in tags)
            {
                var found = false;
                foreach (var t in measured) found |= t.Key == key && Equals(t.Value, value);
                if (!found) return false;
            }

            return true;
        }

        listener.SetMeasurementEventCallback<int>((_, v, t, _) => total = (total ?? 0) + (Selected(t) ? v : 0));
        listener.SetMeasurementEventCallback<long>((_, v, t, _) => total = (total ?? 0) + (Selected(t) ? v : 0));
        listener.Start();
        listener.RecordObservableInstruments();
        return total ?? throw new InvalidOperationException($"the node exports no {instrument}");
    }
}
