//go:build js && wasm

package jsutil_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"syscall/js"
	"testing"
	"time"

	"github.com/p2pmedia/p2pmedia/internal/jsutil"
)

// eval evaluates a JS expression.
func eval(expr string) js.Value {
	return js.Global().Get("Function").New("return (" + expr + ")").Invoke()
}

func TestAwait(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		want    any // string or float64 value
		wantErr *jsutil.Error
	}{
		{"resolved", `Promise.resolve("x")`, "x", nil},
		{"resolved later", `new Promise((r) => setTimeout(() => r(42), 10))`, 42.0, nil},
		{"not a promise", `"plain"`, "plain", nil},
		{"rejected with an Error", `Promise.reject(new TypeError("bad"))`, nil, &jsutil.Error{Name: "TypeError", Message: "bad"}},
		{"rejected with a DOMException-like", `Promise.reject({name: "AbortError", message: "stop"})`, nil, &jsutil.Error{Name: "AbortError", Message: "stop"}},
		{"rejected with a string", `Promise.reject("nope")`, nil, &jsutil.Error{Message: "nope"}},
		{"rejected with undefined", `Promise.reject(undefined)`, nil, &jsutil.Error{Message: "undefined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := jsutil.Await(context.Background(), eval(tt.expr))
			if tt.wantErr != nil {
				var je *jsutil.Error
				if !errors.As(err, &je) || je.Name != tt.wantErr.Name || je.Message != tt.wantErr.Message {
					t.Fatalf("Await = %v, %v; want error %+v", v, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Await: %v", err)
			}
			var got any
			switch v.Type() {
			case js.TypeString:
				got = v.String()
			case js.TypeNumber:
				got = v.Float()
			}
			if got != tt.want {
				t.Errorf("Await = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAwaitContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := jsutil.Await(ctx, eval(`new Promise(() => {})`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await of a pending promise = %v, want the context's error", err)
	}
	// A promise that settles after its waiter left calls released-on-use
	// functions: nothing breaks, and the next Await works.
	late := eval(`new Promise((r) => setTimeout(() => r(1), 5))`)
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := jsutil.Await(ctx2, late); !errors.Is(err, context.Canceled) {
		t.Fatalf("Await with a cancelled context = %v", err)
	}
	if v, err := jsutil.Await(context.Background(), eval(`new Promise((r) => setTimeout(() => r(2), 20))`)); err != nil || v.Int() != 2 {
		t.Fatalf("Await after an abandoned one = %v, %v", v, err)
	}
}

func TestTry(t *testing.T) {
	err := jsutil.Try(func() { eval(`(() => { throw new RangeError("out") })`).Invoke() })
	var je *jsutil.Error
	if !errors.As(err, &je) || je.Name != "RangeError" || je.Message != "out" {
		t.Fatalf("Try = %v, want RangeError: out", err)
	}
	if err := jsutil.Try(func() {}); err != nil {
		t.Fatalf("Try of a quiet function = %v", err)
	}
	_, err = jsutil.Call(js.Global(), "noSuchFunction")
	if err == nil {
		t.Fatal("Call of a missing method gave no error")
	}
}

func TestGetters(t *testing.T) {
	o := eval(`{s: "a", n: 2.5, nan: NaN, b: true, one: "u", list: ["x", 1, "y"], nul: null}`)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"String", jsutil.String(o, "s", "d"), "a"},
		{"String of a number", jsutil.String(o, "n", "d"), "d"},
		{"String of undefined", jsutil.String(js.Undefined(), "s", "d"), "d"},
		{"String of null", jsutil.String(js.Null(), "s", "d"), "d"},
		{"Number", jsutil.Number(o, "n", -1), 2.5},
		{"Number of NaN", jsutil.Number(o, "nan", -1), -1.0},
		{"Number of a string", jsutil.Number(o, "s", -1), -1.0},
		{"Bool", jsutil.Bool(o, "b", false), true},
		{"Bool of a string", jsutil.Bool(o, "s", false), false},
		{"Strings of a string", jsutil.Strings(o, "one"), []string{"u"}},
		{"Strings of an array", jsutil.Strings(o, "list"), []string{"x", "y"}},
		{"Strings of null", jsutil.Strings(o, "nul"), []string(nil)},
		{"IsObject of null", jsutil.IsObject(js.Null()), false},
		{"IsArray of an object", jsutil.IsArray(o), false},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestUint8Array(t *testing.T) {
	u := jsutil.Uint8Array([]byte{1, 2, 3})
	if u.Get("byteLength").Int() != 3 || u.Get("buffer").Get("byteLength").Int() != 3 || u.Index(2).Int() != 3 {
		t.Fatalf("Uint8Array = %v", js.Global().Get("Array").Call("from", u))
	}
}

// TestErrorValue: a rejection goes back to JS as the value it was, a Go
// error as a new Error.
func TestErrorValue(t *testing.T) {
	reason := eval(`new TypeError("bad")`)
	_, err := jsutil.Await(context.Background(), js.Global().Get("Promise").Call("reject", reason))
	if got := jsutil.ErrorValue(err); !got.Equal(reason) {
		t.Errorf("ErrorValue of a rejection = %v, want the rejected value", got)
	}
	got := jsutil.ErrorValue(errors.New("from Go"))
	if !got.InstanceOf(js.Global().Get("Error")) || got.Get("message").String() != "from Go" {
		t.Errorf("ErrorValue of a Go error = %v, want an Error with its message", got)
	}
}

// TestPromise: a Go function as a JS promise, resolved with its value,
// rejected with its error or with what JS threw inside it.
func TestPromise(t *testing.T) {
	ctx := context.Background()
	v, err := jsutil.Await(ctx, jsutil.Promise(func() (js.Value, error) { return js.ValueOf(3), nil }))
	if err != nil || v.Int() != 3 {
		t.Errorf("resolved: %v, %v; want 3", v, err)
	}
	_, err = jsutil.Await(ctx, jsutil.Promise(func() (js.Value, error) { return js.Undefined(), errors.New("nope") }))
	if err == nil || err.Error() != "Error: nope" {
		t.Errorf("rejected: %v, want Error: nope", err)
	}
	_, err = jsutil.Await(ctx, jsutil.Promise(func() (js.Value, error) {
		return eval(`(() => { throw new RangeError("thrown") })`).Invoke(), nil
	}))
	var je *jsutil.Error
	if !errors.As(err, &je) || je.Name != "RangeError" {
		t.Errorf("thrown: %v, want RangeError", err)
	}
}

// TestProtect: a Go panic inside the protected function is an error, not
// the end of the program.
func TestProtect(t *testing.T) {
	_, err := jsutil.Protect(func() (js.Value, error) {
		var m map[string]int
		m["x"] = 1 // a Go runtime panic
		return js.Undefined(), nil
	})
	if err == nil {
		t.Fatal("Protect of a panicking function gave no error")
	}
}

// TestAwaitDone: a promise that never settles gives ErrCancelled once done
// closes.
func TestAwaitDone(t *testing.T) {
	done := make(chan struct{})
	close(done)
	if _, err := jsutil.AwaitDone(eval(`new Promise(() => {})`), done); err != jsutil.ErrCancelled {
		t.Errorf("AwaitDone = %v, want ErrCancelled", err)
	}
}

// TestAs: values read only when they have the type asked for.
func TestAs(t *testing.T) {
	if n, ok := jsutil.AsInt(js.ValueOf(42)); !ok || n != 42 {
		t.Errorf("AsInt(42) = %d, %v", n, ok)
	}
	for _, expr := range []string{"1.5", "NaN", "2 ** 54", `"7"`, "null"} {
		if n, ok := jsutil.AsInt(eval(expr)); ok {
			t.Errorf("AsInt(%s) = %d, true; want false", expr, n)
		}
	}
	if got := jsutil.AsString(js.ValueOf(3)); got != "" {
		t.Errorf("AsString(3) = %q", got)
	}
	list := eval(`["a", 1, "", "b", "c"]`)
	if got := jsutil.AsStrings(list, 9); fmt.Sprint(got) != "[a b c]" {
		t.Errorf("AsStrings = %q, want [a b c]", got)
	}
	if got := jsutil.AsStrings(list, 2); fmt.Sprint(got) != "[a]" {
		t.Errorf("AsStrings of the first 2 = %q, want [a]", got)
	}
	if got := jsutil.AsStrings(eval(`"a"`), 2); got != nil {
		t.Errorf("AsStrings of a string = %q, want none", got)
	}
}
