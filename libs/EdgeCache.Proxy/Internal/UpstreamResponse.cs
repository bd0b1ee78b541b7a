using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace EdgeCache.Proxy.Internal;

/// <summary>An upstream response as it arrives: the head first, then the body into a <see cref="CacheBody"/>.</summary>
internal sealed class UpstreamResponse
{
    public int StatusCode { get; set; }

    public HeaderDictionary Headers { get; } = new();

    public CacheBody Body { get; set; } = null!;

    public long? ContentLength { get; set; }

    public DateTimeOffset RequestTime { get; set; }

    public DateTimeOffset ResponseTime { get; set; }

    /// <summary>The validators this fetch sent, when it revalidated a stored response.</summary>
    public bool SentValidators { get; set; }

    /// <summary>Set when no response head arrived.</summary>
    public ForwarderError Error { get; set; }

    public bool Failed => Error != ForwarderError.None;

    /// <summary>Set when the failure was the upstream's TLS certificate being refused.</summary>
    public bool CertificateRejected { get; set; }

    internal TaskCompletionSource Head { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal CancellationTokenSource Cancellation { get; } = new();

    /// <summary>Bounds the whole exchange (<c>TransferTimeout</c>).</summary>
    public void StartDeadline(TimeSpan timeout) => Cancellation.CancelAfter(timeout);

    /// <summary>The exchange is over: take its deadline off the timer queue. Without this every fetch kept a
    /// timer (and its token source) alive for the whole TransferTimeout: thousands at a CDN's miss rate.</summary>
    public void StopDeadline()
    {
        try
        {
            Cancellation.CancelAfter(Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Stops the upstream transfer (nobody will read the rest of a body that is not stored).</summary>
    public void Abort()
    {
        try
        {
            Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Hands a body that will not be stored to its one reader, with bounded buffering.</summary>
    public void MakeTransient() => Body.MakeTransient(TransientWindowBytes);

    public const long TransientWindowBytes = 1024 * 1024;

    /// <summary>Status for a client when the upstream could not be reached: 504 for time-outs, else 502.</summary>
    public int ErrorStatus => Error is ForwarderError.RequestTimedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway;
}
