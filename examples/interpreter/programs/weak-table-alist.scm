;; weak-table-alist: reading a weak hash table's entries while allocating the result.
;; hash-table->alist allocates two pairs per entry. A collection during those allocations frees the
;; values of the entries not read yet that nothing else holds, so the result must come from values
;; read (and held) before the first allocation: it lists only entries whose value it holds, each
;; intact. (It used to read each value just before its pairs: a collection halfway left the rest of
;; the result with a raw zero word as the value, printed as "(2 . )".)
;; Each table is filled with automatic collection off, so that every value is still there when the
;; table is read, and then the heap is filled with garbage up to its last few kilobytes: the read's
;; own allocations find it full, and the collection that makes room falls halfway through them, in
;; every collector mode.
(define (say . items) (for-each display items) (newline))

(define (every? ok? l) (or (null? l) (and (ok? (car l)) (every? ok? (cdr l)))))
;; An entry as filled: (key . #(key key)).
(define (entry-ok? e) (and (pair? e) (vector? (cdr e)) (= (vector-length (cdr e)) 2) (eq? (vector-ref (cdr e) 0) (car e))))

;; A weak table of n entries key -> #(key key); every 10th value is also held in `kept`, the
;; others are garbage as soon as fill returns.
(define kept '())
(define (fill n)
  (let ((t (make-weak-hash-table)))
    (let loop ((i 0))
      (when (< i n)
        (let ((v (vector i i)))
          (hash-table-set! t i v)
          (when (= 0 (remainder i 10)) (set! kept (cons v kept))))
        (loop (+ i 1))))
    t))

;; Calls (read table) with a collection falling during it, and returns its result.
(define (under-pressure n read)
  (set! kept '())
  (gc-collect)                ; no cycle running: the values are not born marked
  (gc-disable)
  (let ((t (fill n)))
    (let pad ((garbage '()))  ; leave less free than the read allocates
      (when (> (gc-mem-free) 4000) (pad (cons 0 garbage))))
    (gc-enable)
    (read t)))

(define (kept-listed? keys) (every? (lambda (v) (memv (vector-ref v 0) keys)) kept))

(define (check-alist n)
  (let ((alist (under-pressure n hash-table->alist)))
    (say "alist of " n ": entries intact: " (every? entry-ok? alist)
         ", held values listed: " (kept-listed? (map car alist)))))
(define (check-keys n)
  (let ((keys (under-pressure n hash-table-keys)))
    (say "keys of " n ": all integers: " (every? integer? keys)
         ", held values' keys listed: " (kept-listed? keys))))

(check-alist 200)
(check-alist 400)
(check-alist 800)
(check-keys 400)

;; Without forcing: which table sizes go wrong depends only on where a collection happens to
;; fall, so try many.
(define (one-round n)
  (let ((t (make-weak-hash-table)) (held '()))
    (let loop ((i 0))
      (when (< i n)
        (let ((v (vector i i))) (set! held (cons v held)) (hash-table-set! t i v))
        (loop (+ i 1))))
    (set! held '())
    (every? entry-ok? (hash-table->alist t))))
(define (rounds n bad) (if (> n 400) bad (rounds (+ n 50) (if (one-round n) bad (+ bad 1)))))
(say "rounds with a broken alist: " (rounds 100 0))
(say "heap consistent: " (heap-verify))
