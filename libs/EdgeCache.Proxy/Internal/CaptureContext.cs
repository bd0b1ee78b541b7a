using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// The HttpContext a cache fetch is forwarded with: the request is a snapshot of the client's, and
/// the response is captured (head into <see cref="UpstreamResponse"/>, body into its CacheBody)
/// instead of being written to a connection.
/// </summary>
internal static class CaptureContext
{
    private const int FeatureCapacity = 12;

    public static HttpContext Create(UpstreamRequest request, UpstreamResponse response, CancellationToken aborted)
    {
        // Sized for what a fetch carries (the six below, YARP's proxy feature, the key hash, items and
        // an error): the default capacity grew its table twice per miss.
        var features = new FeatureCollection(FeatureCapacity);
        features.Set<IHttpRequestFeature>(new HttpRequestFeature
        {
            Method = request.Method,
            Scheme = request.Scheme,
            PathBase = request.PathBase.Value ?? "",
            Path = request.Path.Value ?? "/",
            QueryString = request.Query.Value ?? "",
            Protocol = request.Protocol,
            Headers = request.Headers,
            Body = request.Body ?? Stream.Null,
        });
        var capture = new CaptureResponseFeature(response);
        features.Set<IHttpResponseFeature>(capture);
        features.Set<IHttpResponseBodyFeature>(capture);
        features.Set<IHttpRequestBodyDetectionFeature>(request.CanHaveBody ? HasBody.Instance : NoBody.Instance);
        features.Set<IHttpRequestLifetimeFeature>(new HttpRequestLifetimeFeature { RequestAborted = aborted });
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature { RemoteIpAddress = request.RemoteIp });
        return new DefaultHttpContext(features);
    }

    private sealed class NoBody : IHttpRequestBodyDetectionFeature
    {
        public static readonly NoBody Instance = new();

        public bool CanHaveBody => false;
    }

    /// <summary>A forwarded client body (a POST whose response may be stored): YARP sends whatever the
    /// client's stream yields, framed by the Content-Length or Transfer-Encoding the client sent.</summary>
    private sealed class HasBody : IHttpRequestBodyDetectionFeature
    {
        public static readonly HasBody Instance = new();

        public bool CanHaveBody => true;
    }

    private sealed class CaptureResponseFeature(UpstreamResponse response) : IHttpResponseFeature, IHttpResponseBodyFeature
    {
        private CaptureStream? _stream;
        private PipeWriter? _writer;

        public int StatusCode { get; set; } = StatusCodes.Status200OK;

        public string? ReasonPhrase { get; set; }

        // Headers land in the upstream response directly: the head is read from there.
        public IHeaderDictionary Headers { get; set; } = response.Headers;

        public Stream Body { get => Stream; set => throw new NotSupportedException(); }

        public bool HasStarted { get; private set; }

        public Stream Stream => _stream ??= new CaptureStream(response);

        public PipeWriter Writer => _writer ??= PipeWriter.Create(Stream);

        public void OnStarting(Func<object, Task> callback, object state)
        {
        }

        public void OnCompleted(Func<object, Task> callback, object state)
        {
        }

        public void DisableBuffering()
        {
        }

        public Task StartAsync(CancellationToken cancellationToken = default)
        {
            HasStarted = true;
            return Task.CompletedTask;
        }

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task CompleteAsync() => _writer?.CompleteAsync().AsTask() ?? Task.CompletedTask;
    }

    private sealed class CaptureStream(UpstreamResponse response) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            response.Body.Append(buffer);
            CompleteAtLength();
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var append = response.Body.AppendAsync(buffer, cancellationToken);
            if (!append.IsCompletedSuccessfully) return AppendedAsync(append);
            append.GetAwaiter().GetResult();
            CompleteAtLength();
            return default;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private async ValueTask AppendedAsync(ValueTask append)
        {
            await append.ConfigureAwait(false);
            CompleteAtLength();
        }

        /// <summary>
        /// The body is complete once it holds its Content-Length (HttpClient reads no further), not only once the
        /// forwarder's whole exchange has ended on another continuation: the copy is stored, and the client's
        /// last bytes (which wait for that, see <see cref="FetchResult.InMemory"/>) go, without that wait.
        /// </summary>
        private void CompleteAtLength()
        {
            if (response.ContentLength is { } length && response.Body.Length == length) response.Body.Complete();
        }
    }
}
