using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>
/// A loopback proxy between one NATS client and a real nats-server that reads the server's side of the
/// protocol message by message and can lose one kind of message on purpose: the "408 Request Timeout"
/// status a JetStream consumer gets when its pull request expires, or the messages on some subjects. nats-server
/// before 2.9.15 (the version Debian ships) can drop that notice when an event arrives just as the request
/// expires (nats-io/nats-server#3942); the client then believes the server still holds its request, and waits.
/// What the client sends is passed through, except publications on subjects it is told to lose.
/// </summary>
public sealed class NatsFaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _open = [];
    private readonly Task _accepting;
    private int _dropTimeouts;
    private int _dropped;

    public NatsFaultProxy(int targetPort)
    {
        _target = targetPort;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Url => $"nats://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Messages lost so far (pull-request timeouts, and messages on dropped subjects).</summary>
    public int Dropped => Volatile.Read(ref _dropped);

    /// <summary>Loses the next <paramref name="count"/> pull-request timeouts the server sends.</summary>
    public void DropRequestTimeouts(int count = 1) => Interlocked.Exchange(ref _dropTimeouts, count);

    private volatile string? _dropSubjectPrefix;

    /// <summary>Loses every message the server delivers on a subject starting with <paramref name="prefix"/>
    /// (null: none), as a consumer misses an entry that expired before it was delivered.</summary>
    public void DropSubjects(string? prefix) => _dropSubjectPrefix = prefix;

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

            var toServer = RelayClientAsync(client.GetStream(), upstream.GetStream(), _stop.Token);
            var toClient = RelayServerAsync(upstream.GetStream(), client.GetStream(), _stop.Token);
            await Task.WhenAny(toServer, toClient);
        }
        catch (Exception)
        {
            // The far side closed, or the proxy is stopping.
        }
        finally
        {
            client.Dispose();
            upstream.Dispose();
        }
    }

    private volatile string? _dropPublishPrefix;

    /// <summary>Loses every message the client publishes on a subject starting with <paramref name="prefix"/>
    /// (null: none), as a node whose puts to a key-value bucket never arrive.</summary>
    public void DropPublishes(string? prefix) => _dropPublishPrefix = prefix;

    /// <summary>Copies the client's protocol to the server, losing publications on dropped subjects.</summary>
    private Task RelayClientAsync(Stream client, Stream server, CancellationToken cancellationToken) =>
        RelayAsync(client, server, "PUB ", "HPUB ", (subject, _) => _dropPublishPrefix is { } prefix && subject.StartsWith(prefix, StringComparison.Ordinal), cancellationToken);

    /// <summary>Copies the server's protocol to the client, losing the request timeouts and deliveries it is told to.</summary>
    private Task RelayServerAsync(Stream server, Stream client, CancellationToken cancellationToken) =>
        RelayAsync(
            server,
            client,
            "MSG ",
            "HMSG ",
            (subject, payload) => (IsRequestTimeout(payload) && TryTakeDrop()) || (_dropSubjectPrefix is { } prefix && subject.StartsWith(prefix, StringComparison.Ordinal)),
            cancellationToken);

    /// <summary>Copies one side's protocol to the other one control line (and its payload) at a time; a
    /// message (<paramref name="verb"/> or <paramref name="headersVerb"/>) for which <paramref name="drop"/>
    /// says so is lost.</summary>
    private async Task RelayAsync(Stream from, Stream to, string verb, string headersVerb, Func<string, byte[], bool> drop, CancellationToken cancellationToken)
    {
        var reader = new ProtocolReader(from);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            var text = Encoding.ASCII.GetString(line);
            byte[]? payload = null;
            if (text.StartsWith(verb, StringComparison.Ordinal) || text.StartsWith(headersVerb, StringComparison.Ordinal))
            {
                var trimmed = text.TrimEnd();
                var total = int.Parse(trimmed[(trimmed.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                payload = await reader.ReadExactlyAsync(total + 2, cancellationToken);
                if (drop(text.Split(' ')[1], payload))
                {
                    Interlocked.Increment(ref _dropped);
                    continue;
                }
            }

            await to.WriteAsync(line, cancellationToken);
            if (payload is not null) await to.WriteAsync(payload, cancellationToken);
            await to.FlushAsync(cancellationToken);
        }
    }

    private static bool IsRequestTimeout(byte[] payload) => Encoding.ASCII.GetString(payload, 0, Math.Min(payload.Length, 64)).StartsWith("NATS/1.0 408", StringComparison.Ordinal);

    private bool TryTakeDrop()
    {
        while (true)
        {
            var left = Volatile.Read(ref _dropTimeouts);
            if (left <= 0) return false;
            if (Interlocked.CompareExchange(ref _dropTimeouts, left - 1, left) == left) return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_open)
        {
            foreach (var c in _open) c.Dispose();
            _open.Clear();
        }

        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>Reads CRLF-terminated lines and exact byte counts from a stream, through one buffer.</summary>
    private sealed class ProtocolReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        /// <summary>The next line with its CRLF, or null at the end of the stream.</summary>
        public async Task<byte[]?> ReadLineAsync(CancellationToken cancellationToken)
        {
            using var line = new MemoryStream();
            while (true)
            {
                var span = _buffer.AsSpan(_start, _end - _start);
                var lf = span.IndexOf((byte)'\n');
                if (lf >= 0)
                {
                    line.Write(span[..(lf + 1)]);
                    _start += lf + 1;
                    return line.ToArray();
                }

                line.Write(span);
                _start = _end = 0;
                var read = await stream.ReadAsync(_buffer, cancellationToken);
                if (read == 0) return null;
                _end = read;
            }
        }

        public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            var result = new byte[count];
            var filled = 0;
            while (filled < count)
            {
                if (_start == _end)
                {
                    _start = 0;
                    _end = await stream.ReadAsync(_buffer, cancellationToken);
                    if (_end == 0) throw new EndOfStreamException();
                }

                var take = Math.Min(count - filled, _end - _start);
                _buffer.AsSpan(_start, take).CopyTo(result.AsSpan(filled));
                _start += take;
                filled += take;
            }

            return result;
        }
    }
}
