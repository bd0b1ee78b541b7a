using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace EdgeCache.Proxy.Internal;

internal sealed partial class FastHits
{
    /// <summary>One connection's gathered sends (sendmsg with several buffers), through one reused
    /// SocketAsyncEventArgs: no Task per send, as Kestrel's own socket sender does it.</summary>
    private sealed class GatherSender() : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true), IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;

        public ValueTask<int> SendAsync(Socket socket, IList<ArraySegment<byte>> buffers)
        {
            _core.Reset();
            BufferList = buffers;
            if (socket.SendAsync(this)) return new ValueTask<int>(this, _core.Version);
            var result = SocketError == SocketError.Success ? new ValueTask<int>(BytesTransferred) : ValueTask.FromException<int>(new SocketException((int)SocketError));
            BufferList = null;
            return result;
        }

        protected override void OnCompleted(SocketAsyncEventArgs e)
        {
            BufferList = null;
            if (SocketError == SocketError.Success) _core.SetResult(BytesTransferred);
            else _core.SetException(new SocketException((int)SocketError));
        }

        public int GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
