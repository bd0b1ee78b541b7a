using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>A passive health policy that marks nothing and records every exchange it is told of.</summary>
public sealed class RecordingPassivePolicy : IPassiveHealthCheckPolicy
{
    public const string PolicyName = "EdgeCacheTestRecording";

    public string Name => PolicyName;

    public ConcurrentQueue<(string Destination, string Method, string Path, ForwarderError? Error)> Exchanges { get; } = new();

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination) =>
        Exchanges.Enqueue((destination.DestinationId, context.Request.Method, context.Request.Path.Value ?? "", context.Features.Get<IForwarderErrorFeature>()?.Error));

    public (string Destination, ForwarderError? Error)[] For(string method, string path) =>
        [.. Exchanges.Where(e => e.Method == method && e.Path == path).Select(e => (e.Destination, e.Error))];
}
