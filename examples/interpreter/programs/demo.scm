;; demo: a short tour of uheap-scheme. Every object below lives on a 256 KB uheap heap.
(define (say . items) (for-each display items) (newline))

;; Closures with lexical scope: each counter has its own n.
(define (make-counter)
  (let ((n 0))
    (lambda () (set! n (+ n 1)) n)))
(define a (make-counter))
(define b (make-counter))
(a) (a)
(say "counters: a=" (a) " b=" (b))

;; Lists, vectors, strings, hash tables.
(define squares (map (lambda (i) (* i i)) (iota 8)))
(say "squares: " squares)
(define v (list->vector squares))
(say "vector: " v)
(define ages (make-hash-table))
(hash-table-set! ages "ada" 36)
(hash-table-set! ages "alan" 41)
(say "ages: " (sort (hash-table-keys ages) string<?) " -> " (hash-table-ref ages "alan"))
(say "joined: " (string-join (map number->string squares) "+"))

;; Errors unwind to the nearest guard.
(say "guarded: "
     (guard (e ((error-object? e) (list (error-kind e) (error-object-message e))))
       (vector-ref v 100)))

;; The heap as the program sees it, before any collection (L pair, S string, Y symbol,
;; V vector, D hash table, C closure, P primitive, F environment frame, E error, = tail).
(mem-info #t)

;; Make garbage: 300 lists of 20 numbers, none kept. Automatic collection is off until it has been
;; measured, so all of it is still there for gc-collect, whether the heap collects incrementally
;; (its cycles start long before the heap is full) or stops the world.
(gc-disable)
(let loop ((i 0))
  (when (< i 300)
    (iota 20)
    (loop (+ i 1))))
(say "before collect: " (> (gc-mem-alloc) 100000))
(gc-enable)
(say "freed some objects: " (> (gc-collect) 0))
(say "heap consistent: " (heap-verify))
(mem-info)
