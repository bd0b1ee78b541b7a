using System.Net;
using System.Net.Sockets;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// A loopback TCP proxy that can cut the link (the way NATS.Net's own tests inject faults): while
/// cut, open connections are closed and new ones are closed on accept. It can also stall it, as a
/// network that drops packets does: connections stay open (and new ones are accepted) but nothing
/// is forwarded either way until <see cref="Resume"/>, when what was held goes on.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private volatile int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _open = [];
    private readonly Task _accepting;
    private volatile bool _cut;

    public TcpProxy(int targetPort)
    {
        _target = targetPort;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The loopback port connections go on to: settable, for a proxy made before the node behind it has
    /// its port (nodes that must name each other at start-up).</summary>
    public int TargetPort
    {
        get => _target;
        set => _target = value;
    }

    public string Url => $"nats://127.0.0.1:{Port}";

    public void Cut()
    {
        _cut = true;
        lock (_open)
        {
            foreach (var c in _open) c.Dispose();
            _open.Clear();
        }
    }

    public void Restore() => _cut = false;

    private volatile TaskCompletionSource? _stalled;

    public void Stall() => _stalled ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Resume() => Interlocked.Exchange(ref _stalled, null)?.TrySetResult();

    private long _requestChunks;

    /// <summary>Reads from the client side so far (one per request, for small requests such as health probes).</summary>
    public long RequestChunks => Interlocked.Read(ref _requestChunks);

    /// <summary>Copies <paramref name="from"/> to <paramref name="to"/>, holding each chunk while stalled.</summary>
    private async Task CopyAsync(NetworkStream from, NetworkStream to, bool fromClient)
    {
        var buffer = new byte[16 * 1024];
        int n;
        while ((n = await from.ReadAsync(buffer, _stop.Token)) > 0)
        {
            if (fromClient) Interlocked.Increment(ref _requestChunks);
            if (_stalled is { } stalled) await stalled.Task.WaitAsync(_stop.Token);
            await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            if (_cut)
            {
                client.Dispose();
                continue;
            }

            _ = PipeAsync(client);
        }
    }

    private async Task PipeAsync(TcpClient client)
    {
        var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(IPAddress.Loopback, _target);
            lock (_open)
            {
                _open.Add(client);
                _open.Add(upstream);
            }

            var a = CopyAsync(client.GetStream(), upstream.GetStream(), fromClient: true);
            var b = CopyAsync(upstream.GetStream(), client.GetStream(), fromClient: false);
            await Task.WhenAny(a, b);
        }
        catch (Exception)
        {
            // The link was cut or the far side closed.
        }
        finally
        {
            client.Dispose();
            upstream.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Resume();
        Cut();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
