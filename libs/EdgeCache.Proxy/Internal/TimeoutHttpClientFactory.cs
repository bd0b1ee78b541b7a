using System.Net.Sockets;
using Yarp.ReverseProxy.Forwarder;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// YARP's client factory with a per-request connect timeout: each host's policy sets its own
/// (see <see cref="EdgeCache.Engine.HostCachePolicy.ConnectTimeout"/>), carried in the request's options.
/// </summary>
internal sealed class TimeoutHttpClientFactory : ForwarderHttpClientFactory
{
    private static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ConnectCallback = static async (ctx, cancellationToken) =>
        {
            var timeout = ctx.InitialRequestMessage.Options.TryGetValue(UpstreamClient.ConnectTimeoutKey, out var t) ? t : DefaultConnectTimeout;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(ctx.DnsEndPoint, cts.Token).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new TimeoutException($"Connecting to {ctx.DnsEndPoint.Host}:{ctx.DnsEndPoint.Port} took longer than {timeout.TotalMilliseconds} ms.");
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
    }
}
